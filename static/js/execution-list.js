// The executions lists: filters that apply when changed, the keyboard through rows (as the state
// machines list), and rows kept live by a light poll (designer/execution_views.py says why a poll):
// a running row's status, stop and duration change in place; on the first page, a newer execution
// makes the page fetch its results again and replace the table.
//   /   focuses the search     j, ↓ / k, ↑   next / previous execution     Enter   opens it

import { showRelativeTimes } from "./app.js";
import { rowNavigation } from "./list-keys.js";

const form = document.querySelector("form[data-execution-search]");
const input = form?.querySelector("[data-search-input]");

const results = () => document.querySelector("[data-execution-results]");
const rows = () => [...document.querySelectorAll("tr[data-execution-row]")];
const list = rowNavigation({ rows, rowSelector: "tr[data-execution-row]", search: input });

for (const select of form?.querySelectorAll("[data-auto-submit]") ?? []) {
  select.addEventListener("change", () => form.requestSubmit());
}

input?.addEventListener("keydown", (event) => {
  if (event.key === "Escape") input.blur();
  else if (event.key === "ArrowDown") { event.preventDefault(); input.blur(); list.select(0); }
});

// -- live rows ------------------------------------------------------------------------------------
async function refreshResults() {
  const response = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (!response.ok) return;
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.querySelector("[data-execution-results]");
  if (!fresh) return;
  results().replaceWith(document.adoptNode(fresh));
  showRelativeTimes(results());
  list.reset();
}

async function poll() {
  const section = results();
  if (!section || document.hidden) return;
  const shown = rows();
  const running = shown.filter((row) => row.dataset.status === "RUNNING" || row.dataset.status === "PENDING_REDRIVE");
  const firstPage = section.dataset.firstPage === "true";
  if (!running.length && !firstPage) return;
  const params = new URLSearchParams({ ids: running.map((row) => row.dataset.id).join(",") });
  if (section.dataset.machine) params.set("machine", section.dataset.machine);
  const response = await fetch(`${section.dataset.pollUrl}?${params}`, { credentials: "same-origin" });
  if (!response.ok) return;
  const answer = await response.json();
  for (const row of running) {
    const now = answer.executions[row.dataset.id];
    if (!now || now.status === row.dataset.status) continue;
    row.dataset.status = now.status;
    const badge = row.querySelector("[data-row-status]");
    badge.className = `status status-${now.status.toLowerCase()}`;
    badge.textContent = now.status;
    if (now.stop_date) {
      const time = document.createElement("time");
      time.dateTime = now.stop_date;
      time.textContent = new Date(now.stop_date).toLocaleTimeString([], { hour12: false });
      row.querySelector("[data-row-stop]").replaceChildren(time);
    }
    row.querySelector("[data-row-duration]").textContent = now.duration || "—";
  }
  if (firstPage && answer.newest && answer.newest > newestSeen) {
    // A filtered list may leave the newer execution out: the server's page says what to show, and
    // it is asked once per new execution, not at every poll.
    newestSeen = answer.newest;
    await refreshResults();
  }
}

let newestSeen = Math.max(0, ...rows().map((row) => Number(row.dataset.id)));
const section = results();
if (section) {
  const seconds = Number(section.dataset.pollSeconds) || 2;
  setInterval(() => poll().catch(() => {}), seconds * 1000);
}
