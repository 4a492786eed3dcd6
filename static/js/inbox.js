// The inbox: the keyboard moves through tasks as in the machines list (static/js/machine-list.js).
//   j, ↓ / k, ↑   next / previous task     Enter   opens its execution
//   a             approves (first choice)  c       claims it
// Keys typed into a field are the field's.
let selected = -1;
const rows = () => [...document.querySelectorAll("tr[data-inbox-row]")];

function select(index) {
  const all = rows();
  for (const row of all) row.removeAttribute("aria-selected");
  if (!all.length) { selected = -1; return; }
  selected = Math.max(0, Math.min(index, all.length - 1));
  all[selected].setAttribute("aria-selected", "true");
  all[selected].scrollIntoView({ block: "nearest" });
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest("input, textarea, select, [contenteditable]")) return;
  const row = rows()[selected];
  if (event.key === "j" || event.key === "ArrowDown") { select(selected + 1); event.preventDefault(); }
  else if (event.key === "k" || event.key === "ArrowUp") { select(selected - 1); event.preventDefault(); }
  else if (event.key === "Enter" && row) { window.location.href = row.dataset.href; }
  else if (event.key === "a" && row) { row.querySelector("[data-decide-form] button[data-choice]")?.click(); }
  else if (event.key === "c" && row) { row.querySelector("[data-claim]")?.click(); }
});

// Bulk actions: the row checkboxes belong to the bulk form (form="bulk-form"); its buttons wait for a
// selection, and "select every task" follows the rows' state.
const bulk = document.querySelector("[data-bulk-form]");
if (bulk) {
  const boxes = () => [...document.querySelectorAll("input[data-select]")];
  const all = bulk.querySelector("[data-select-all]");
  const update = () => {
    const chosen = boxes().filter((box) => box.checked).length;
    bulk.querySelector("[data-selected-count]").textContent = String(chosen);
    for (const button of bulk.querySelectorAll("[data-bulk-choice]")) button.disabled = chosen === 0;
    all.checked = chosen > 0 && chosen === boxes().length;
    all.indeterminate = chosen > 0 && chosen < boxes().length;
  };
  all.addEventListener("change", () => {
    for (const box of boxes()) box.checked = all.checked;
    update();
  });
  document.addEventListener("change", (event) => { if (event.target.matches("input[data-select]")) update(); });
  update();
}
