// Pan, zoom and fit for the Graphviz drawings in [data-graph]. Progressive enhancement: without it the
// SVG still shows, shrunk to the panel's width and scrolled. Only the viewBox changes: the drawing is
// never laid out again, and its nodes keep their ids and status classes.

const MIN_SCALE = 0.2; // relative to the fitted view
const MAX_SCALE = 8;
const STEP = 1.25;

function parseViewBox(svg) {
  const [x, y, w, h] = svg.getAttribute("viewBox").trim().split(/[\s,]+/).map(Number);
  return { x, y, w, h };
}

/** Makes one graph container interactive; returns its controller (for tests and later live views). */
export function enhanceGraph(container, tools) {
  const svg = container.querySelector("svg.graph-svg:not(.graph-placeholder)");
  if (!svg || !svg.getAttribute("viewBox")) return null;
  const home = parseViewBox(svg);
  // The height the drawing takes when shrunk to the panel's width, at most 70% of the window.
  const fitted = svg.getBoundingClientRect();
  const height = Math.max(160, Math.min(fitted.height, window.innerHeight * 0.7));
  container.style.height = `${Math.round(height)}px`;
  container.classList.add("graph-interactive");
  svg.setAttribute("width", "100%");
  svg.setAttribute("height", "100%");
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  let view = { ...home };

  const apply = () => svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  const toDrawing = (clientX, clientY) => {
    const matrix = svg.getScreenCTM();
    if (!matrix) return { x: view.x + view.w / 2, y: view.y + view.h / 2 };
    const point = new DOMPoint(clientX, clientY).matrixTransform(matrix.inverse());
    return { x: point.x, y: point.y };
  };
  const zoom = (factor, around) => {
    const scale = home.w / (view.w / factor);
    if (scale < MIN_SCALE || scale > MAX_SCALE) return;
    const centre = around ?? { x: view.x + view.w / 2, y: view.y + view.h / 2 };
    view = {
      x: centre.x - (centre.x - view.x) / factor,
      y: centre.y - (centre.y - view.y) / factor,
      w: view.w / factor,
      h: view.h / factor,
    };
    apply();
  };
  const fit = () => { view = { ...home }; apply(); };

  // Ctrl/⌘ + wheel zooms anywhere; a plain wheel zooms only once the graph has focus (click it), so
  // scrolling the page over the graph still scrolls the page.
  container.addEventListener("wheel", (event) => {
    if (!(event.ctrlKey || event.metaKey || document.activeElement === container)) return;
    event.preventDefault();
    zoom(event.deltaY < 0 ? STEP : 1 / STEP, toDrawing(event.clientX, event.clientY));
  }, { passive: false });

  let drag = null;
  container.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    container.focus({ preventScroll: true });
    drag = { start: toDrawing(event.clientX, event.clientY), view: { ...view } };
    container.setPointerCapture(event.pointerId);
    container.classList.add("graph-dragging");
  });
  container.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const matrix = svg.getScreenCTM();
    if (!matrix) return;
    // Screen pixels to drawing units: the CTM's scale (the same on both axes with "meet").
    const start = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
    view.x -= start.x - drag.start.x;
    view.y -= start.y - drag.start.y;
    apply();
  });
  const stop = () => { drag = null; container.classList.remove("graph-dragging"); };
  container.addEventListener("pointerup", stop);
  container.addEventListener("pointercancel", stop);

  container.addEventListener("keydown", (event) => {
    if (event.key === "+" || event.key === "=") zoom(STEP);
    else if (event.key === "-") zoom(1 / STEP);
    else if (event.key === "0") fit();
  });

  if (tools) {
    tools.hidden = false;
    tools.querySelector("[data-graph-fit]")?.addEventListener("click", fit);
    for (const button of tools.querySelectorAll("[data-graph-zoom]")) {
      button.addEventListener("click", () => zoom(button.dataset.graphZoom === "in" ? STEP : 1 / STEP));
    }
  }
  return { fit, zoom, get view() { return { ...view }; } };
}

for (const container of document.querySelectorAll("[data-graph]")) {
  const panel = container.closest(".graph-panel");
  enhanceGraph(container, panel?.querySelector("[data-graph-tools]"));
}
