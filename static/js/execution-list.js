// The executions lists: filters that apply when changed, the keyboard through rows (as the state
// machines list), and rows kept live by a light poll (designer/execution_views.py says why a poll):
// a running row's status, stop and duration change in place; on the first page, a newer execution
// makes the page fetch its results again and replace the table.
//   /   focuses the search     j, ↓ / k, ↑   next / previous execution     Enter   opens it

import { showRelativeTimes } from "./app.js";

const form = document.querySelector("form[data-execution-search]");
const input = form?.querySelector("[data-search-input]");
let selected = -1;

const results = () => document.querySelector("[data-execution-results]");
const rows = () => [...document.querySelectorAll("tr[data-execution-row]")];

function select(index) {
  const all = rows();
  for (const row of all) row.removeAttribute("aria-selected");
  if (!all.length) { selected = -1; return; }
  selected = Math.max(0, Math.min(index, all.length - 1));
  all[selected].setAttribute("aria-selected", "true");
  all[selected].scrollIntoView({ block: "nearest" });
}

for (const select of form?.querySelectorAll("[data-auto-submit]") ?? []) {
  select.addEventListener("change", () => form.requestSubmit());
}

input?.addEventListener("keydown", (event) => {
  if (event.key === "Escape") input.blur();
  else if (event.key === "ArrowDown") { event.preventDefault(); input.blur(); select(0); }
});

const typing = (target) => target.closest("input, textarea, select, [contenteditable]") !== null;

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
  if (event.key === "/" && input) {
    event.preventDefault();
    input.focus();
    input.select();
  } else if (event.key === "j" || event.key === "ArrowDown") {
    event.preventDefault();
    select(selected + 1);
  } else if (event.key === "k" || event.key === "ArrowUp") {
    event.preventDefault();
    select(selected <= 0 ? 0 : selected - 1);
  } else if (event.key === "Enter" && selected >= 0 && !event.target.closest("a, button")) {
    event.preventDefault();
    rows()[selected]?.querySelector("a")?.click();
  }
});

document.addEventListener("click", (event) => {
  const row = event.target.closest("tr[data-execution-row]");
  if (row && !event.target.closest("a")) row.querySelector("a")?.click();
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
  selected = -1;
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
