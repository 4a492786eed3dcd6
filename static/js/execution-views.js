// The execution page's tools around the live view (static/js/live.js): the history's filters and
// "Load more" (pages of rows rendered by the server, designer/execution_views.py), step details in a
// side panel (a state clicked on the graph or in the history, or the error banner's link), and replay:
// a slider over a finished execution's history that recolours the graph as of each event.

const STATUS_CLASS_PREFIX = "state-status-";
const REPLAY_DELAY_MS = 60;

// -- history: filters and pages -------------------------------------------------------------------
for (const select of document.querySelectorAll("[data-history-filter] [data-auto-submit]")) {
  select.addEventListener("change", () => select.form.requestSubmit());
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-load-more]");
  if (!button) return;
  const gap = button.closest("[data-events-gap]");
  const body = gap.closest("[data-live-history]");
  const params = new URLSearchParams({ after: gap.dataset.after });
  if (gap.dataset.before) params.set("before", gap.dataset.before);
  if (body.dataset.filterType) params.set("type", body.dataset.filterType);
  if (body.dataset.filterState) params.set("state", body.dataset.filterState);
  button.disabled = true;
  try {
    const response = await fetch(`${body.dataset.eventsUrl}?${params}`, { credentials: "same-origin" });
    if (!response.ok) return;
    const page = await response.json();
    const template = document.createElement("template");
    template.innerHTML = page.html; // rows rendered (and escaped) by the server's row template
    gap.before(template.content);
    const count = gap.querySelector("[data-gap-count]");
    if (count) {
      count.dataset.gapCount = String(Math.max(0, Number(count.dataset.gapCount) - page.count));
      count.textContent = `… ${count.dataset.gapCount} events not shown`;
    }
    if (page.next === null) gap.remove();
    else gap.dataset.after = String(page.next);
  } finally {
    button.disabled = false;
  }
});

// -- step details ---------------------------------------------------------------------------------
const panel = document.querySelector("[data-step-panel]");
let replaySeq = null; // the event the replay slider is at (null: the end)

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function documentBlock(title, doc) {
  const block = element("section", { class: "step-doc" }, element("h3", {}, title));
  if (!doc) {
    block.append(element("p", { class: "muted" }, "—"));
    return block;
  }
  block.append(element("pre", { class: "code" }, doc.text + (doc.truncated ? "\n… truncated" : "")));
  if (doc.truncated) {
    block.append(element("a", { href: doc.url, download: "" }, `Download the whole event (${Math.round(doc.total_chars / 1024)} KB)`));
  }
  return block;
}

function failureItem(failure) {
  const item = element("li", {}, element("code", {}, failure.error ?? failure.type));
  if (failure.retried_after_seconds !== undefined) item.append(` — retried after ${failure.retried_after_seconds} s`);
  if (failure.cause) item.append(element("pre", { class: "code cause" }, failure.cause));
  return item;
}

function renderVisit(visit, index, count) {
  const section = element("section", { class: "step-visit", "data-step-visit": "" });
  const heading = count > 1 ? `Visit ${index + 1} of ${count}` : "Visit";
  const duration = visit.duration_seconds === null ? "" : ` · ${visit.duration_seconds} s`;
  section.append(element("p", { class: "step-facts" },
    element("span", { class: `status status-${visit.status === "not-entered" ? "aborted" : visit.status}` }, visit.status),
    ` ${heading}${duration}`));
  const docs = element("div", { class: "step-docs" }, documentBlock("Input", visit.input), documentBlock("Output", visit.output));
  section.append(docs);
  if (visit.retries.length) {
    section.append(element("h3", {}, `Retries (${visit.retries.length})`), element("ol", { "data-step-retries": "" }, ...visit.retries.map(failureItem)));
  }
  if (visit.failures.length) {
    section.append(element("h3", {}, "Error"), element("ul", { class: "step-errors" }, ...visit.failures.map(failureItem)));
  }
  return section;
}

export async function openStep(name) {
  if (!panel) return;
  const url = new URL(`${panel.dataset.statesUrl}${encodeURIComponent(name)}.json`, location.href);
  if (replaySeq !== null) url.searchParams.set("seq", String(replaySeq));
  panel.hidden = false;
  panel.querySelector("[data-step-title]").textContent = name;
  const body = panel.querySelector("[data-step-body]");
  body.replaceChildren(element("p", { class: "muted" }, "Loading…"));
  const response = await fetch(url, { credentials: "same-origin" });
  const details = await response.json();
  if (!response.ok) {
    body.replaceChildren(element("p", { class: "muted" }, details.error ?? "No details."));
    return;
  }
  const visits = details.visits.map((visit, index) => renderVisit(visit, index + details.visits_left_out, details.visit_count));
  if (details.visits_left_out) visits.unshift(element("p", { class: "muted" }, `The last ${details.visits.length} of ${details.visit_count} visits.`));
  body.replaceChildren(...visits);
  panel.dataset.state = name;
  panel.focus();
}

function stateName(node) {
  const id = node.getAttribute("id") || "";
  return id.startsWith("state-") || id.startsWith("group-") ? id.slice(6) : null;
}

// graph.js captures the pointer to pan the drawing, so the click lands on the container: the state is
// the one under the pointer when it went down, if the pointer did not move (a drag is a pan).
let pressed = null;
document.addEventListener("pointerdown", (event) => {
  const node = event.target.closest?.("[data-graph] g.state");
  pressed = node ? { name: stateName(node), x: event.clientX, y: event.clientY } : null;
}, true);

document.addEventListener("click", (event) => {
  if (pressed && event.target.closest("[data-graph]")) {
    const { name, x, y } = pressed;
    pressed = null;
    if (name && Math.hypot(event.clientX - x, event.clientY - y) < 5) openStep(name);
    return;
  }
  const opener = event.target.closest("[data-open-state]");
  if (opener) {
    event.preventDefault();
    openStep(opener.dataset.openState);
    return;
  }
  const row = event.target.closest("[data-live-history] tr:not(.more)");
  if (row && !event.target.closest("a, button")) {
    const name = row.children[2]?.textContent.trim();
    if (name) openStep(name);
  }
});

panel?.querySelector("[data-step-close]").addEventListener("click", () => { panel.hidden = true; });
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && panel && !panel.hidden) panel.hidden = true;
});

// -- replay ---------------------------------------------------------------------------------------
const replay = document.querySelector("[data-replay]");
if (replay) {
  const slider = replay.querySelector("[data-replay-slider]");
  const label = replay.querySelector("[data-replay-at]");
  let timer = 0;
  let ticket = 0;
  const colour = (states) => {
    const svg = document.querySelector("[data-graph] svg.graph-svg");
    for (const node of svg?.querySelectorAll("g.state, g.state-group") ?? []) {
      const name = stateName(node);
      if (name === null) continue;
      for (const cls of [...node.classList]) if (cls.startsWith(STATUS_CLASS_PREFIX)) node.classList.remove(cls);
      node.classList.add(STATUS_CLASS_PREFIX + (states[name] || "not-entered"));
    }
  };
  const show = async () => {
    const seq = Number(slider.value);
    const mine = ++ticket;
    const atEnd = seq === Number(slider.max);
    replaySeq = atEnd ? null : seq;
    label.textContent = `event ${seq} of ${slider.max}${atEnd ? " (the end)" : ""}`;
    const response = await fetch(`${replay.dataset.statusesUrl}?seq=${seq}`, { credentials: "same-origin" });
    if (!response.ok || mine !== ticket) return;
    const answer = await response.json();
    colour(answer.states);
    replay.dataset.replaySeq = String(seq);
    document.querySelectorAll("[data-live-history] tr:not(.more)").forEach((row) => {
      row.classList.toggle("replay-future", Number(row.firstElementChild?.textContent) > seq);
      row.classList.toggle("replay-current", Number(row.firstElementChild?.textContent) === seq);
    });
    if (panel && !panel.hidden && panel.dataset.state) openStep(panel.dataset.state);
  };
  slider.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(show, REPLAY_DELAY_MS); });
}
