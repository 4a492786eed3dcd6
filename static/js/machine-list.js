// The state machines list: the search box filters as you type, and the keyboard moves through rows.
// Progressive enhancement: the search is a GET form (`?q=`) that works without scripts. Typing hides
// the rows that do not match at once, then asks the server for the same URL and shows its answer
// (the one source of truth: it also finds machines a narrower search had left off the page).
//   /          focuses the search          j, ↓ / k, ↑   next / previous machine
//   Enter      opens the selected machine  Esc           leaves the search (clears it first)

import { showRelativeTimes } from "./app.js";
import { rowNavigation } from "./list-keys.js";

const FETCH_DELAY_MS = 150;
const form = document.querySelector("form[data-machine-search]");
const input = form?.querySelector("[data-search-input]");

const results = () => document.querySelector("[data-machine-results]");
const rows = () => [...document.querySelectorAll("tr[data-machine-row]")].filter((row) => !row.hidden);
const list = rowNavigation({ rows, rowSelector: "tr[data-machine-row]", search: input });

function filterNow(text) {
  const wanted = text.trim().toLowerCase();
  let shown = 0;
  for (const row of document.querySelectorAll("tr[data-machine-row]")) {
    row.hidden = !row.dataset.name.includes(wanted);
    if (!row.hidden) shown++;
  }
  const count = document.querySelector("[data-machine-count]");
  if (count) count.textContent = String(shown);
  list.reset();
}

let timer = 0;
let latest = 0;
async function fetchResults() {
  const params = new URLSearchParams(new FormData(form));
  if (!params.get("q")) params.delete("q");
  const url = `${form.action}?${params}`;
  const ticket = ++latest;
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok || ticket !== latest) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.querySelector("[data-machine-results]");
    if (!fresh || ticket !== latest) return;
    results().replaceWith(document.adoptNode(fresh));
    history.replaceState(null, "", url);
    showRelativeTimes(results());
    list.reset();
  } catch {
    // Offline or the server is gone: the rows filtered here stay, Enter still sends the form.
  }
}

if (form && input) {
  form.querySelector("[data-search-submit]").hidden = true;
  input.addEventListener("input", () => {
    filterNow(input.value);
    clearTimeout(timer);
    timer = setTimeout(fetchResults, FETCH_DELAY_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      if (input.value) {
        input.value = "";
        input.dispatchEvent(new Event("input"));
      } else {
        input.blur();
      }
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      input.blur();
      list.select(0);
    } else if (event.key === "Enter" && list.selected >= 0) {
      event.preventDefault();
      list.open();
    }
  });
}
