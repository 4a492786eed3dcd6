// Test this state, under the inspector's form: the API's TestState on the draft (the server's
// designer/teststate.py, one code path), with input, variables, a mock result or error and the
// inspection level; the answer is shown stage by stage, then the next state or the error.

import { h } from "./dom.js";

// inspectionData's stages in the order the state applies them (JSONPath, JSONata, Map's items).
const STAGES = [
  ["input", "Input"], ["afterInputPath", "After InputPath"], ["afterItemsPath", "After ItemsPath"],
  ["afterParameters", "After Parameters"], ["afterArguments", "After Arguments"],
  ["afterItemSelector", "After ItemSelector"], ["afterItemBatcher", "After ItemBatcher"],
  ["result", "Result"], ["afterResultSelector", "After ResultSelector"],
  ["afterResultPath", "After ResultPath"], ["variables", "Variables (after Assign)"],
];

function pretty(text) {
  if (typeof text !== "string") return JSON.stringify(text, null, 2);
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

/** Checks that a field holds JSON (empty is allowed); marks it and returns the problem or null. */
function checkJson(area, label) {
  const text = area.value.trim();
  if (!text) { area.removeAttribute("aria-invalid"); return null; }
  try { JSON.parse(text); area.removeAttribute("aria-invalid"); return null; } catch (error) {
    area.setAttribute("aria-invalid", "true");
    return `${label} is not valid JSON (${error.message}).`;
  }
}

// What the user typed, kept per state across re-renders of the inspector.
const remembered = new Map();

/** The panel for `name`; `post(url, body)` and `definitionText()` come from the page. */
export function testPanel(name, { url, post, definitionText }) {
  const saved = remembered.get(name) ?? { input: "{}", variables: "", mock: "none", mockResult: "", error: "", cause: "", level: "DEBUG" };
  const area = (field, label, rows = 3) => {
    const element = h("textarea", { name: `test-${field}`, rows: String(rows), spellcheck: "false", "aria-label": label,
                                    class: "inspector-json",
                                    oninput: () => { saved[field] = element.value; remembered.set(name, saved); } });
    element.value = saved[field];
    return element;
  };
  const input = area("input", "Test input", 4);
  const variables = area("variables", "Test variables");
  variables.placeholder = '{"name": "value"}';
  const mockResult = area("mockResult", "Mock result");
  mockResult.placeholder = '{"Payload": {"ok": true}}';
  const errorName = h("input", { name: "test-error", "aria-label": "Mock error", placeholder: "Error name", value: saved.error,
                                 oninput: (event) => { saved.error = event.target.value; remembered.set(name, saved); } });
  const cause = h("input", { name: "test-cause", "aria-label": "Mock cause", placeholder: "Cause", value: saved.cause,
                             oninput: (event) => { saved.cause = event.target.value; remembered.set(name, saved); } });
  const mockRows = { result: h("div", { class: "inspector-field mock-result" }, mockResult),
                     error: h("div", { class: "inspector-field test-row mock-error" }, errorName, cause) };
  const mockKind = h("select", { name: "test-mock", "aria-label": "Mock", onchange: () => {
    saved.mock = mockKind.value; remembered.set(name, saved); showMock();
  } }, [["none", "No mock (run it)"], ["result", "Mock a result"], ["error", "Mock an error"]]
    .map(([value, label]) => h("option", { value, selected: saved.mock === value }, label)));
  const showMock = () => { mockRows.result.hidden = mockKind.value !== "result"; mockRows.error.hidden = mockKind.value !== "error"; };
  showMock();
  const level = h("select", { name: "test-level", "aria-label": "Inspection level", onchange: () => {
    saved.level = level.value; remembered.set(name, saved);
  } }, ["INFO", "DEBUG", "TRACE"].map((value) => h("option", { value, selected: saved.level === value }, value)));
  const answer = h("div", { class: "test-answer", "aria-live": "polite", dataset: { testAnswer: "" } });
  const run = h("button", { type: "button", class: "button button-primary", onclick: async () => {
    const problems = [checkJson(input, "The input"), checkJson(variables, "Variables"),
                      mockKind.value === "result" ? checkJson(mockResult, "The mock result") : null].filter(Boolean);
    if (mockKind.value === "result" && !mockResult.value.trim()) problems.push("A mocked result needs a value.");
    if (problems.length) { showAnswer(answer, { error: "Invalid", message: problems.join(" ") }, false); return; }
    const body = { definition: definitionText(), stateName: name, input: input.value.trim() || "{}",
                   inspectionLevel: level.value };
    if (variables.value.trim()) body.variables = variables.value.trim();
    if (mockKind.value === "result") body.mock = { result: mockResult.value.trim() };
    if (mockKind.value === "error") body.mock = { errorOutput: { error: errorName.value || "Error", cause: cause.value } };
    run.disabled = true;
    answer.replaceChildren(h("p", { class: "muted" }, "Testing…"));
    try {
      const result = await post(url, body);
      showAnswer(answer, result.answer, result.ok);
    } catch {
      showAnswer(answer, { error: "Unreachable", message: "The server could not be reached." }, false);
    } finally {
      run.disabled = false;
    }
  } }, "Test this state");
  const field = (label, control, help) => h("div", { class: "inspector-field" },
    h("label", { for: control.id ||= `test-${label.replace(/\W+/g, "-")}` }, label), control,
    help ? h("p", { class: "inspector-help" }, help) : null);
  return h("details", { class: "test-state inspector-group", dataset: { testState: name }, open: Boolean(saved.open),
                        ontoggle: (event) => { saved.open = event.target.open; remembered.set(name, saved); } },
    h("summary", {}, "Test this state"),
    h("p", { class: "inspector-help" }, "Runs only this state, on the draft as it is now (TestState): nothing is saved or started."),
    field("Input", input, "The state's input, JSON."),
    field("Variables", variables, "Variables in scope, a JSON object (optional)."),
    field("Mock", mockKind, "Mock a Task's result or error instead of calling it."), mockRows.result, mockRows.error,
    field("Inspection level", level, "DEBUG and TRACE show the data at every stage."),
    h("div", { class: "test-row" }, run), answer);
}

function showAnswer(host, answer, ok) {
  if (!ok) {
    host.replaceChildren(...[h("p", { class: "test-outcome", dataset: { status: "error" } },
      `${answer.error ?? "Error"}: ${answer.message ?? "the test could not run."}`),
      answer.problems?.length ? h("ul", { class: "inspector-problems" }, answer.problems.map((p) => h("li", {}, p))) : null].filter(Boolean));
    return;
  }
  const stages = answer.inspectionData ?? {};
  const rows = STAGES.filter(([key]) => key in stages).map(([key, label]) =>
    h("li", { dataset: { stage: key } }, h("span", { class: "stage-name" }, label), h("pre", {}, pretty(stages[key]))));
  if ("output" in answer) {
    rows.push(h("li", { dataset: { stage: "output" } }, h("span", { class: "stage-name" }, "Output (after OutputPath / Output)"),
                h("pre", {}, pretty(answer.output))));
  }
  const outcome = [answer.status];
  if (answer.nextState) outcome.push(`next: ${answer.nextState}`);
  else if (answer.status === "SUCCEEDED") outcome.push("the end");
  host.replaceChildren(...[
    h("p", { class: "test-outcome", dataset: { status: answer.status } }, outcome.join(" · ")),
    answer.error ? h("p", { class: "test-error" }, h("strong", {}, answer.error), answer.cause ? `: ${answer.cause}` : "") : null,
    h("ol", { class: "test-stages" }, rows)].filter(Boolean));
}
