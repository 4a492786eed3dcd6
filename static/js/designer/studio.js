// The designer page: one draft (the definition's text) shown four ways — palette, canvas (the
// server's Graphviz drawing), inspector and code (the existing CodeMirror editor). Every edit
// replaces the text, goes on the undo list, and is drawn, validated and autosaved (all debounced).

import { EditorView, StateEffect } from "../../vendor/codemirror-6.0.2/codemirror.js";
import { dump, load, CORE_SCHEMA } from "../../vendor/js-yaml-5.5.0/js-yaml.js";
import { csrfToken } from "../app.js";
import { locate, parseJson, toValue } from "../definition-map.js";
import "../editor.js"; // enhances the Code tab's textarea
import { enhanceGraph } from "../graph.js";
import { h } from "./dom.js";
import { exportButtons } from "./export.js";
import { Inspector } from "./inspector.js";
import { deleteState, duplicateState, findState, insertAfter, insertOnEdge, readEdgeId, renameState } from "./model.js";
import { testPanel } from "./teststate.js";

const DRAW_DELAY_MS = 250;
const VALIDATE_DELAY_MS = 300;
const AUTOSAVE_DELAY_MS = 800;
const COALESCE_MS = 1000; // typing in one field within this is one undo step
const HISTORY_LIMIT = 200;

const root = document.querySelector("[data-studio]");
const setup = JSON.parse(document.getElementById("studio-setup").textContent);
const urls = root.dataset;
const canvas = root.querySelector("[data-canvas]");
const canvasNote = root.querySelector("[data-canvas-note]");
const statusLine = document.querySelector("[data-draft-status]");
const problemsLine = document.querySelector("[data-problems]");
const saveResult = document.querySelector("[data-save-result]");
const editorHost = root.querySelector(".definition-field");
const editor = editorHost.editorView;

function debounce(fn, ms) {
  let timer;
  const debounced = (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

async function post(url, body, method = "POST") {
  const response = await fetch(url, {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = response.headers.get("Content-Type")?.startsWith("application/json") ? await response.json() : {};
  return { ok: response.ok, status: response.status, answer };
}

/** The definition a text holds, or null while it cannot be read. */
function read(text) {
  let value = null;
  try { value = toValue(parseJson(text)); } catch { /* not readable yet: null */ }
  return value && typeof value === "object" && !Array.isArray(value) ? value : null;
}

const show = (definition) => JSON.stringify(definition, null, 2) + "\n";

// The last edit's round trips, after the debounce (tests/test_designer_browser.py reports them).
const timings = { drawMs: null, validateMs: null };

// -- the draft and its history ---------------------------------------------------------------------
const draft = { text: setup.definition, definition: read(setup.definition), selected: null };
const history = { past: [], future: [], lastKey: null, lastAt: 0 };

function change(text, { source, coalesce = null, selected = draft.selected } = {}) {
  if (text === draft.text && selected === draft.selected) return;
  const now = Date.now();
  const joins = coalesce && coalesce === history.lastKey && now - history.lastAt < COALESCE_MS;
  if (!joins && text !== draft.text) {
    history.past.push({ text: draft.text, selected: draft.selected });
    if (history.past.length > HISTORY_LIMIT) history.past.shift();
  }
  if (text !== draft.text) history.future = [];
  history.lastKey = coalesce;
  history.lastAt = now;
  apply(text, selected, source);
}

function apply(text, selected, source) {
  const changed = text !== draft.text;
  draft.text = text;
  const definition = read(text);
  if (definition) draft.definition = definition;
  draft.selected = selected && draft.definition && findState(draft.definition, selected) ? selected : null;
  if (source !== "code") showInCode(text);
  if (source !== "inspector") inspector.render(draft.definition, draft.selected);
  markSelected();
  updateHistoryButtons();
  if (changed) {
    redraw();
    validate();
    autosave();
    statusLine.textContent = "Editing…";
    saveResult.hidden = true; // the last Save's answer is about an older text
  }
}

function undo() {
  const entry = history.past.pop();
  if (!entry) return;
  history.future.push({ text: draft.text, selected: draft.selected });
  history.lastKey = null;
  apply(entry.text, entry.selected, "history");
}

function redo() {
  const entry = history.future.pop();
  if (!entry) return;
  history.past.push({ text: draft.text, selected: draft.selected });
  history.lastKey = null;
  apply(entry.text, entry.selected, "history");
}

function updateHistoryButtons() {
  document.querySelector("[data-undo]").disabled = !history.past.length;
  document.querySelector("[data-redo]").disabled = !history.future.length;
}

/** An edit made on the definition object (palette, canvas, inspector). */
function edit(definition, options) {
  change(show(definition), options);
}

// -- canvas ----------------------------------------------------------------------------------------
let graphController = null;

function installDrawing(svgText) {
  const view = h("div", { class: "graph-view studio-graph", tabindex: "0", "aria-label": "Graph: click a state to select it" });
  view.innerHTML = svgText; // the server's drawing, checked element by element in designer/graph.py
  canvas.replaceChildren(view);
  enhanceCanvas(view);
  markSelected();
}

const MAX_FIT_SCALE = 1.5; // screen pixels per Graphviz point (1.33 is natural size): no 40-pixel letters

function enhanceCanvas(view) {
  graphController = enhanceGraph(view, null);
  view.style.height = "100%";
  watchClicks(view);
  fitCanvas();
}

function fitCanvas() {
  if (!graphController) return;
  graphController.fit();
  const scale = canvas.querySelector("svg.graph-svg")?.getScreenCTM()?.a ?? 1;
  if (scale > MAX_FIT_SCALE) graphController.zoom(MAX_FIT_SCALE / scale);
}

const redraw = debounce(async () => {
  const text = draft.text;
  const started = performance.now();
  let result;
  try {
    result = await post(urls.graphUrl, { definition: text });
  } catch {
    canvasNote.textContent = "The graph could not be redrawn (is the server reachable?).";
    canvasNote.hidden = false;
    return;
  }
  if (text !== draft.text) return; // a newer drawing is on its way
  if (result.answer.readable) {
    installDrawing(result.answer.svg);
    canvasNote.hidden = true;
    timings.drawMs = performance.now() - started; // request, drawing and installing it
  } else {
    canvasNote.textContent = `Showing the last drawing that could be made: ${result.answer.reason ?? result.answer.error}`;
    canvasNote.hidden = false;
  }
}, DRAW_DELAY_MS);

/** A click (not a drag) on a state selects it; graph.js pans on drags of the same container. */
function watchClicks(view) {
  let down = null;
  view.addEventListener("pointerdown", (event) => {
    down = { x: event.clientX, y: event.clientY, target: event.target };
  }, { capture: true });
  view.addEventListener("pointerup", (event) => {
    if (!down || Math.hypot(event.clientX - down.x, event.clientY - down.y) > 4) { down = null; return; }
    const node = down.target.closest?.("g.state, g.state-group");
    down = null;
    if (!node) return;
    const name = node.id.startsWith("state-") ? node.id.slice(6)
      : node.querySelector("g.state")?.id.slice(6);
    if (name) select(name, { moveCursor: true });
  });
}

function markSelected() {
  for (const node of canvas.querySelectorAll(".is-selected")) node.classList.remove("is-selected");
  if (!draft.selected) return;
  for (const node of canvas.querySelectorAll("g.state")) {
    if (node.id === `state-${draft.selected}`) node.classList.add("is-selected");
  }
}

function select(name, { moveCursor = false } = {}) {
  if (name === draft.selected) return;
  draft.selected = name;
  inspector.render(draft.definition, name);
  markSelected();
  if (moveCursor) cursorToState(name);
}

// -- code ------------------------------------------------------------------------------------------
let applyingToCode = false;
const codeFormat = () => root.querySelector('input[name="editor_format"]:checked')?.value ?? "json";

function showInCode(text) {
  let shown = text;
  if (codeFormat() === "yaml") {
    const definition = read(text);
    if (definition) shown = dump(definition, { lineWidth: -1 });
  }
  if (editor.state.doc.toString() === shown) return;
  applyingToCode = true;
  editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: shown } });
  applyingToCode = false;
}

function codeText(source) {
  if (codeFormat() !== "yaml") return source;
  try {
    return show(load(source, { schema: CORE_SCHEMA }));
  } catch {
    return source; // kept as typed: an invalid draft is a draft too
  }
}

function stateAtCursor(state) {
  if (codeFormat() !== "json") return null;
  let tree;
  try { tree = parseJson(state.doc.toString()); } catch { return null; }
  const at = state.selection.main.head;
  let found = null;
  const visit = (machine) => {
    const states = machine?.kind === "object" && machine.entries.find((e) => e.key === "States")?.value;
    if (!states || states.kind !== "object") return;
    for (const entry of states.entries) {
      if (at < entry.keyFrom || at > entry.value.to) continue;
      found = entry.key;
      // nested: a branch's or processor's states, if the cursor is in one
      const fields = entry.value.kind === "object" ? entry.value.entries : [];
      for (const field of fields) {
        if (field.key === "Branches" && field.value.kind === "array") field.value.items.forEach(visit);
        if (field.key === "ItemProcessor" || field.key === "Iterator") visit(field.value);
      }
    }
  };
  visit(tree);
  return found;
}

editor.dispatch({ effects: StateEffect.appendConfig.of(EditorView.updateListener.of((update) => {
  if (update.docChanged && !applyingToCode) {
    change(codeText(update.state.doc.toString()), { source: "code", coalesce: "code" });
  }
  if (update.selectionSet && !update.docChanged && update.view.hasFocus) {
    const name = stateAtCursor(update.state);
    if (name && name !== draft.selected) select(name);
  }
})) });

function cursorToState(name) {
  const found = findState(draft.definition, name);
  if (!found || codeFormat() !== "json") return;
  let tree;
  try { tree = parseJson(editor.state.doc.toString()); } catch { return; }
  const range = locate(tree, found.path);
  if (!range) return;
  editor.dispatch({ selection: { anchor: range.from, head: range.to },
                    effects: EditorView.scrollIntoView(range.from, { y: "center" }) });
}

// -- validation, autosave, save --------------------------------------------------------------------
const validate = debounce(async () => {
  const text = draft.text;
  const started = performance.now();
  let result;
  try {
    result = await post(urls.validateUrl, { definition: text, type: setup.type });
  } catch {
    return;
  }
  if (text !== draft.text || !result.ok) return;
  const diagnostics = result.answer.diagnostics ?? [];
  inspector.showProblems(diagnostics);
  const errors = diagnostics.filter((d) => d.severity === "ERROR").length;
  problemsLine.dataset.state = errors ? "error" : "ok";
  problemsLine.textContent = errors ? `${errors} problem${errors === 1 ? "" : "s"}: ${diagnostics[0].message}` : "Valid";
  timings.validateMs = performance.now() - started;
}, VALIDATE_DELAY_MS);

const autosave = debounce(async () => {
  const text = draft.text;
  statusLine.textContent = "Saving draft…";
  try {
    const result = await post(urls.draftUrl, { definition: text });
    if (!result.ok) throw new Error(result.answer.error);
    if (text === draft.text) statusLine.textContent = `Draft saved ${new Date(result.answer.updated).toLocaleTimeString()}`;
    discardButton.hidden = false;
    statusLine.dataset.saved = "true";
  } catch (error) {
    statusLine.textContent = `The draft could not be saved${error.message ? `: ${error.message}` : ""}. It is tried again on the next edit.`;
    statusLine.dataset.saved = "false";
  }
}, AUTOSAVE_DELAY_MS);

async function save() {
  saveResult.replaceChildren();
  saveResult.hidden = false;
  saveResult.className = "save-result";
  let result;
  try {
    result = await post(urls.saveUrl, { definition: draft.text });
  } catch {
    saveResult.textContent = "Could not reach the server; your draft is kept.";
    return;
  }
  if (result.ok) {
    saveResult.classList.add("save-ok");
    saveResult.textContent = `Saved as revision ${result.answer.revision}.`;
    document.querySelector("[data-revision]").textContent = `revision ${result.answer.revision}`;
    statusLine.textContent = "No unsaved changes";
    autosave.cancel();
    discardButton.hidden = true;
    return;
  }
  saveResult.classList.add("save-refused");
  saveResult.append(h("p", {}, h("strong", {}, "Not saved: "), result.answer.error ?? "the definition has problems (your draft is kept)."),
    h("ul", {}, (result.answer.problems ?? []).map((p) => h("li", {}, p.location ? h("code", {}, p.location) : null, " ", p.message))));
}

// -- palette and keys ------------------------------------------------------------------------------
function add(type, base, body = null) {
  const [definition, name] = insertAfter(draft.definition ?? { StartAt: "", States: {} }, draft.selected, type, base, body);
  edit(definition, { source: "palette", selected: name });
}

const editable = () => draft.selected && draft.definition;
function remove() {
  if (editable()) edit(deleteState(draft.definition, draft.selected), { source: "palette", selected: null });
}

function duplicate() {
  const [definition, name] = editable() ? duplicateState(draft.definition, draft.selected) : [];
  if (name) edit(definition, { source: "palette", selected: name });
}

for (const button of root.querySelectorAll("[data-add-type]")) {
  button.addEventListener("click", () => add(button.dataset.addType, button.dataset.addType));
}
for (const button of root.querySelectorAll("[data-add-action]")) {
  const action = setup.actions[Number(button.dataset.addAction)];
  button.addEventListener("click", () => add("Task", action.base, action.state));
}
// Drag a palette item onto a state (append after it) or an edge (insert on it).
for (const button of root.querySelectorAll("[data-add-type], [data-add-action]")) {
  button.draggable = true;
  button.addEventListener("dragstart", (event) => {
    event.dataTransfer.setData("application/x-stepwise-palette",
                               button.dataset.addType ? `type:${button.dataset.addType}` : `action:${button.dataset.addAction}`);
    event.dataTransfer.effectAllowed = "copy";
  });
}

function dropTarget(event) {
  const element = document.elementFromPoint(event.clientX, event.clientY);
  return element?.closest?.("[data-canvas] g.state, [data-canvas] g.edge") ?? null;
}

let hovered = null;
function hover(target) {
  if (hovered === target) return;
  hovered?.classList.remove("is-drop-target");
  hovered = target;
  hovered?.classList.add("is-drop-target");
}

canvas.addEventListener("dragover", (event) => {
  if (!event.dataTransfer.types.includes("application/x-stepwise-palette")) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
  hover(dropTarget(event));
});
canvas.addEventListener("dragleave", (event) => { if (!canvas.contains(event.relatedTarget)) hover(null); });
canvas.addEventListener("drop", (event) => {
  const item = event.dataTransfer.getData("application/x-stepwise-palette");
  const target = dropTarget(event);
  hover(null);
  if (!item || !draft.definition) return;
  event.preventDefault();
  const [kind, value] = item.split(":");
  const action = kind === "action" ? setup.actions[Number(value)] : null;
  const [type, base, body] = action ? ["Task", action.base, action.state] : [value, value, null];
  let result = [null, null];
  if (target?.classList.contains("state")) {
    result = insertAfter(draft.definition, target.id.slice(6), type, base, body);
  } else if (target) {
    const edge = readEdgeId(draft.definition, target.id);
    if (edge) result = insertOnEdge(draft.definition, ...edge, type, base, body);
  } else {
    result = insertAfter(draft.definition, null, type, base, body);
  }
  if (result[1]) edit(result[0], { source: "palette", selected: result[1] });
});

const search = root.querySelector("[data-palette-search]");
search?.addEventListener("input", () => {
  const words = search.value.trim().toLowerCase();
  for (const item of root.querySelectorAll("[data-palette-item]")) {
    item.hidden = words && !item.textContent.toLowerCase().includes(words);
  }
});

document.querySelector("[data-undo]").addEventListener("click", undo);
document.querySelector("[data-redo]").addEventListener("click", redo);
document.querySelector("[data-save]").addEventListener("click", save);
const discardButton = document.querySelector("[data-discard]");
discardButton.addEventListener("click", async () => {
  // Back to the saved revision; undo still has the draft's text.
  const result = await post(urls.draftUrl, undefined, "DELETE").catch(() => null);
  if (!result?.ok) { statusLine.textContent = "The draft could not be discarded (is the server reachable?)."; return; }
  change(result.answer.definition, { source: "discard" });
  autosave.cancel();
  statusLine.textContent = "Draft discarded: this is the saved revision.";
  discardButton.hidden = true;
});
root.querySelector("[data-delete-state]").addEventListener("click", remove);
root.querySelector("[data-duplicate-state]").addEventListener("click", duplicate);
root.querySelector("[data-graph-fit]").addEventListener("click", fitCanvas);
for (const button of root.querySelectorAll("[data-graph-zoom]")) {
  button.addEventListener("click", () => graphController?.zoom(button.dataset.graphZoom === "in" ? 1.25 : 0.8));
}

document.addEventListener("keydown", (event) => {
  const inCode = event.target.closest?.(".cm-editor");
  const typing = event.target.matches?.("input, textarea, select");
  const mod = event.ctrlKey || event.metaKey;
  if (mod && !inCode && event.key.toLowerCase() === "z") {
    event.preventDefault();
    if (event.shiftKey) redo(); else undo();
  } else if (mod && !inCode && event.key.toLowerCase() === "y") {
    event.preventDefault();
    redo();
  } else if (mod && !inCode && !typing && event.key.toLowerCase() === "d") {
    event.preventDefault();
    duplicate();
  } else if ((event.key === "Delete" || event.key === "Backspace") && event.target.closest?.("[data-canvas]")) {
    event.preventDefault();
    remove();
  }
});

// -- tabs ------------------------------------------------------------------------------------------
const tabs = [...root.querySelectorAll("[role=tab]")];
function showTab(tab) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
  }
  if (tab.dataset.tab === "code") {
    editor.requestMeasure();
    if (draft.selected) cursorToState(draft.selected);
  } else {
    fitCanvas();
  }
}
for (const tab of tabs) tab.addEventListener("click", () => showTab(tab));

// -- start -----------------------------------------------------------------------------------------
const inspector = new Inspector(root.querySelector("[data-inspector]"), {
  operators: setup.operators,
  onChange: (definition, key, structural) => edit(definition, { source: structural ? "inspector-structure" : "inspector", coalesce: key }),
  extra: (name) => testPanel(name, { url: urls.testUrl, post, definitionText: () => draft.text }),
  onSelect: (name) => { if (name) { select(name, { moveCursor: true }); markSelected(); } },
  onRename: (from, to) => {
    const [definition, problem] = renameState(draft.definition, from, to);
    if (problem) { inspector.render(draft.definition, from); inspector.showProblems([{ location: findState(draft.definition, from).path, message: problem, severity: "ERROR" }]); return; }
    edit(definition, { source: "inspector-structure", selected: to });
  },
});

if (canvas.querySelector("svg.graph-svg")) enhanceCanvas(canvas.querySelector(".graph-view"));
if (setup.draftSaved) statusLine.textContent = `Your draft from ${new Date(setup.draftSaved).toLocaleString()} (not saved as a revision yet)`;
exportButtons(document.querySelector("[data-export]"), { definitionText: () => draft.text });
showInCode(draft.text);
inspector.render(draft.definition, null);
updateHistoryButtons();
validate();
root.dataset.ready = "true";
window.studio = { draft, history, select, undo, redo, change, timings }; // for tests
