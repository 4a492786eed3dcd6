// The keyboard and the mouse on a list page's rows, as GitHub's and Linear's lists behave:
//   /   focuses the search box     j, ↓ / k, ↑   next / previous row     Enter   opens the selected row
// and a click anywhere on a row (not only on its name) opens it. Shared by the state machines and the
// executions lists; `rows()` returns the rows a user can see now, `rowSelector` finds a clicked one.

const typing = (target) => target.closest("input, textarea, select, [contenteditable]") !== null;

export function rowNavigation({ rows, rowSelector, search }) {
  let selected = -1;

  function select(index) {
    const shown = rows();
    for (const row of shown) row.removeAttribute("aria-selected");
    if (!shown.length) { selected = -1; return; }
    selected = Math.max(0, Math.min(index, shown.length - 1));
    shown[selected].setAttribute("aria-selected", "true");
    shown[selected].scrollIntoView({ block: "nearest" });
  }

  const open = () => rows()[selected]?.querySelector("a")?.click();

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
    if (event.key === "/" && search) {
      event.preventDefault();
      search.focus();
      search.select();
    } else if (event.key === "j" || event.key === "ArrowDown") {
      event.preventDefault();
      select(selected + 1);
    } else if (event.key === "k" || event.key === "ArrowUp") {
      event.preventDefault();
      select(selected <= 0 ? 0 : selected - 1);
    } else if (event.key === "Enter" && selected >= 0 && !event.target.closest("a, button")) {
      event.preventDefault();
      open();
    }
  });

  document.addEventListener("click", (event) => {
    const row = event.target.closest(rowSelector);
    if (row && !event.target.closest("a")) row.querySelector("a")?.click();
  });

  return {
    select,
    open,
    get selected() { return selected; },
    reset() { selected = -1; },
  };
}
