// The state machines list: the search box filters as you type, and the keyboard moves through rows.
// Progressive enhancement: the search is a GET form (`?q=`) that works without scripts. Typing hides
// the rows that do not match at once, then asks the server for the same URL and shows its answer
// (the one source of truth: it also finds machines a narrower search had left off the page).
//   /          focuses the search          j, ↓ / k, ↑   next / previous machine
//   Enter      opens the selected machine  Esc           leaves the search (clears it first)

import { showRelativeTimes } from "./app.js";

const FETCH_DELAY_MS = 150;
const form = document.querySelector("form[data-machine-search]");
const input = form?.querySelector("[data-search-input]");
let selected = -1;

const results = () => document.querySelector("[data-machine-results]");
const rows = () => [...document.querySelectorAll("tr[data-machine-row]")].filter((row) => !row.hidden);

function select(index) {
  const visible = rows();
  for (const row of visible) row.removeAttribute("aria-selected");
  if (!visible.length) { selected = -1; return; }
  selected = Math.max(0, Math.min(index, visible.length - 1));
  const row = visible[selected];
  row.setAttribute("aria-selected", "true");
  row.scrollIntoView({ block: "nearest" });
}

function filterNow(text) {
  const wanted = text.trim().toLowerCase();
  let shown = 0;
  for (const row of document.querySelectorAll("tr[data-machine-row]")) {
    row.hidden = !row.dataset.name.includes(wanted);
    if (!row.hidden) shown++;
  }
  const count = document.querySelector("[data-machine-count]");
  if (count) count.textContent = String(shown);
  selected = -1;
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
    selected = -1;
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
      select(0);
    } else if (event.key === "Enter" && selected >= 0) {
      event.preventDefault();
      rows()[selected]?.querySelector("a")?.click();
    }
  });
}

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

// A click on a row (not only its name) opens it, as in GitHub's and Linear's lists.
document.addEventListener("click", (event) => {
  const row = event.target.closest("tr[data-machine-row]");
  if (row && !event.target.closest("a")) row.querySelector("a")?.click();
});
