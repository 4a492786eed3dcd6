// The inspector: a form for the selected state's ASL fields, per type and query language. Every
// input edits the definition at once (onChange); problems from the server's validator are shown at
// the field whose location they name.

import { h } from "./dom.js";
import { allNames, findState } from "./model.js";

const JSONPATH = "JSONPath";
const JSONATA = "JSONata";

// [key, label, kind, help, query language it belongs to (both when absent)]
const COMMON = [["Comment", "Comment", "text", "A note for people; Step Functions ignores it."]];
const DATA_FLOW = [
  ["InputPath", "InputPath", "text", "Which part of the state's input it works on (JSONPath, default $).", JSONPATH],
  ["ResultPath", "ResultPath", "text", "Where the result goes in the input (JSONPath; null discards it).", JSONPATH],
  ["OutputPath", "OutputPath", "text", "Which part is passed on (JSONPath, default $).", JSONPATH],
  ["Output", "Output", "json", "The state's output, JSON with {% JSONata %} expressions.", JSONATA],
  ["Assign", "Assign", "json", "Variables to set, as a JSON object.", null],
];
const FIELDS = {
  Task: [
    ["Resource", "Resource", "text", "The ARN of what runs: a function, an integration (arn:aws:states:::…) or an activity."],
    ["Parameters", "Parameters", "json", "The request, JSON; a key ending in .$ takes a JSONPath.", JSONPATH],
    ["Arguments", "Arguments", "json", "The request, JSON with {% JSONata %} expressions.", JSONATA],
    ["TimeoutSeconds", "TimeoutSeconds", "number", "Fails with States.Timeout after this many seconds."],
    ["HeartbeatSeconds", "HeartbeatSeconds", "number", "Fails with States.HeartbeatTimeout if no heartbeat comes this often."],
    ["ResultSelector", "ResultSelector", "json", "Reshapes the raw result before ResultPath.", JSONPATH],
  ],
  Pass: [["Result", "Result", "json", "A fixed result instead of the input.", JSONPATH]],
  Wait: [
    ["Seconds", "Seconds", "number", "How long to wait (in JSONata, may be an {% expression %})."],
    ["Timestamp", "Timestamp", "text", "Wait until this time (RFC 3339, e.g. 2026-01-01T00:00:00Z)."],
    ["SecondsPath", "SecondsPath", "text", "A JSONPath to the number of seconds in the input.", JSONPATH],
    ["TimestampPath", "TimestampPath", "text", "A JSONPath to the timestamp in the input.", JSONPATH],
  ],
  Fail: [
    ["Error", "Error", "text", "The error name the execution fails with."],
    ["Cause", "Cause", "text", "A human-readable reason."],
    ["ErrorPath", "ErrorPath", "text", "A JSONPath to the error name in the input.", JSONPATH],
    ["CausePath", "CausePath", "text", "A JSONPath to the cause in the input.", JSONPATH],
  ],
  Map: [
    ["ItemsPath", "ItemsPath", "text", "A JSONPath to the array to iterate over.", JSONPATH],
    ["Items", "Items", "text", "The array, as JSON or a {% JSONata %} expression.", JSONATA],
    ["MaxConcurrency", "MaxConcurrency", "number", "How many items run at once (0: as many as possible)."],
    ["ItemSelector", "ItemSelector", "json", "Reshapes each item before it is processed."],
  ],
  Parallel: [],
  Choice: [],
  Succeed: [],
};
const WITH_DATA_FLOW = new Set(["Task", "Pass", "Map", "Parallel", "Wait", "Choice", "Succeed"]);
const WITH_ERRORS = new Set(["Task", "Map", "Parallel"]);
const TYPE_HELP = {
  Task: "Does one piece of work.", Pass: "Passes its input on, optionally with a fixed result.",
  Choice: "Branches on rules, tried in order; Default when none matches.", Wait: "Pauses.",
  Succeed: "Ends the execution (or branch) successfully.", Fail: "Ends the execution with an error.",
  Parallel: "Runs its branches at once.", Map: "Runs its processor for every item of an array.",
};

/** A rule's value typed as its operator reads it. */
function typedValue(operator, text) {
  if (operator.endsWith("Path") || operator.startsWith("String") || operator.startsWith("Timestamp")) return text;
  if (operator.startsWith("Numeric")) return text.trim() === "" || Number.isNaN(Number(text)) ? text : Number(text);
  return text.trim() !== "false"; // BooleanEquals and the Is* tests take a boolean
}

export class Inspector {
  constructor(host, { operators, onChange, onRename, onSelect, extra }) {
    Object.assign(this, { host, operators, onChange, onRename, onSelect, extra });
    this.problemSlots = [];
  }

  /** Draws the form for `name` in `definition` (or a hint when nothing is selected). */
  render(definition, name) {
    this.definition = definition;
    this.name = name;
    this.problemSlots = [];
    const found = definition && name ? findState(definition, name) : null;
    if (!found || !found.state || typeof found.state !== "object") {
      const names = definition ? allNames(definition) : [];
      this.host.replaceChildren(h("p", { class: "muted inspector-empty" },
        "Select a state on the graph (or put the cursor in it in the code) to edit it here. " +
        "The palette adds states after the selected one."),
        names.length ? h("select", { class: "inspector-picker", "aria-label": "Selected state",
                                     onchange: (event) => this.onSelect(event.target.value) },
          h("option", { value: "", selected: true }, "Choose a state…"),
          names.map((other) => h("option", { value: other }, other))) : null);
      return;
    }
    const { state, path } = found;
    this.path = path;
    const language = state.QueryLanguage ?? definition.QueryLanguage ?? JSONPATH;
    const names = Object.keys(found.machine.States).filter((other) => other !== name);
    const form = h("form", { class: "inspector-form", onsubmit: (event) => event.preventDefault() });
    const heading = h("div", { class: "inspector-head" },
      h("span", { class: `inspector-type type-${String(state.Type).toLowerCase()}` }, String(state.Type ?? "?")),
      h("span", { class: "muted" }, TYPE_HELP[state.Type] ?? ""));
    const picker = h("select", { class: "inspector-picker", "aria-label": "Selected state",
                                 onchange: (event) => this.onSelect(event.target.value) },
      allNames(definition).map((other) => h("option", { value: other, selected: other === name }, other)));
    form.append(picker, heading, this.problemSlot(path, true));
    const nameInput = h("input", { name: "StateName", value: name, maxlength: "80", autocomplete: "off",
                                   onchange: () => this.onRename(name, nameInput.value) });
    form.append(this.field("Name", nameInput, "Renaming updates every Next, Default, Catch and StartAt that names it.", null));
    form.append(this.field("QueryLanguage", h("select", { name: "QueryLanguage", onchange: (event) =>
      this.set("QueryLanguage", event.target.value || undefined) },
      h("option", { value: "", selected: !state.QueryLanguage }, `The machine's (${definition.QueryLanguage ?? JSONPATH})`),
      ...[JSONPATH, JSONATA].map((ql) => h("option", { value: ql, selected: state.QueryLanguage === ql }, ql))),
      "JSONPath uses InputPath/Parameters/ResultPath; JSONata uses Arguments/Output and {% expressions %}.",
      `${path}/QueryLanguage`));
    const shown = ([, , , , only], key) => !only || only === language || key in state;
    for (const row of [...COMMON, ...(FIELDS[state.Type] ?? [])]) {
      const [key, label, kind, help] = row;
      if (shown(row, key)) form.append(this.field(label, this.input(state, key, kind), help, `${path}/${key}`));
    }
    if (state.Type === "Choice") form.append(this.choiceRules(state, names, language));
    if (!["Choice", "Succeed", "Fail"].includes(state.Type)) form.append(this.nextField(state, names));
    if (WITH_ERRORS.has(state.Type)) form.append(this.retriers(state), this.catchers(state, names, language));
    if (WITH_DATA_FLOW.has(state.Type)) {
      // Rarely all needed: folded unless one is set.
      const rows = DATA_FLOW.filter((row) => shown(row, row[0]));
      const flow = h("details", { class: "inspector-group", open: rows.some(([key]) => key in state) },
        h("summary", {}, language === JSONATA ? "Output and variables" : "Input and output"));
      for (const [key, label, kind, help] of rows) {
        flow.append(this.field(label, this.input(state, key, kind), help, `${path}/${key}`));
      }
      form.append(flow);
    }
    this.host.replaceChildren(form, this.extra?.(name) ?? "");
    if (this.lastProblems) this.showProblems(this.lastProblems);
  }

  field(label, control, help, location) {
    const id = `inspector-${label.replace(/\W+/g, "-")}`;
    control.id ||= id;
    return h("div", { class: "inspector-field", dataset: location ? { location } : {} },
      h("label", { for: control.id }, label), control,
      h("p", { class: "inspector-help" }, help), location ? this.problemSlot(location) : null);
  }

  problemSlot(location, exact = false) {
    const slot = h("ul", { class: "inspector-problems", hidden: true, dataset: { location } });
    this.problemSlots.push({ slot, location, exact });
    return slot;
  }

  /** Shows each validator problem at the most precise field whose location it falls under. */
  showProblems(diagnostics) {
    this.lastProblems = diagnostics;
    for (const { slot } of this.problemSlots) { slot.replaceChildren(); slot.hidden = true; }
    for (const problem of diagnostics) {
      const location = problem.location ?? "";
      const fits = this.problemSlots.filter(({ location: at, exact }) =>
        location === at || (!exact && (location.startsWith(`${at}/`) || location.startsWith(`${at}[`))));
      const best = fits.sort((a, b) => b.location.length - a.location.length)[0];
      if (!best) continue;
      best.slot.append(h("li", { class: `problem-${String(problem.severity).toLowerCase()}` }, problem.message));
      best.slot.hidden = false;
    }
  }

  /** The state as it is now, in a copy of the definition to change. */
  editable() {
    const definition = structuredClone(this.definition);
    return [definition, findState(definition, this.name).state];
  }

  set(key, value, { structural = false } = {}) {
    const [definition, state] = this.editable();
    if (value === undefined || value === "") delete state[key]; else state[key] = value;
    this.definition = definition;
    this.onChange(definition, structural ? null : `${this.name}/${key}`, structural);
  }

  input(state, key, kind) {
    const value = state[key];
    if (kind === "json") {
      const area = h("textarea", { name: key, rows: "3", spellcheck: "false", class: "inspector-json" });
      area.value = value === undefined ? "" : JSON.stringify(value, null, 2);
      area.rows = Math.min(10, Math.max(3, area.value.split("\n").length));
      area.addEventListener("input", () => {
        if (!area.value.trim()) { area.removeAttribute("aria-invalid"); this.set(key, undefined); return; }
        try {
          const parsed = JSON.parse(area.value);
          area.removeAttribute("aria-invalid");
          this.set(key, parsed);
        } catch {
          area.setAttribute("aria-invalid", "true"); // kept as typed until it reads as JSON
        }
      });
      return area;
    }
    const input = h("input", { name: key, autocomplete: "off",
                               type: kind === "number" ? "text" : "text", inputmode: kind === "number" ? "numeric" : undefined });
    input.value = value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
    input.addEventListener("input", () => {
      const text = input.value;
      const number = Number(text);
      this.set(key, kind === "number" && text.trim() !== "" && !Number.isNaN(number) ? number : text);
    });
    return input;
  }

  targetSelect(name, current, names, onPick, { allowEnd = false, label = "Next" } = {}) {
    const options = names.map((other) => h("option", { value: other, selected: other === current }, other));
    if (current && !names.includes(current)) options.unshift(h("option", { value: current, selected: true }, `${current} (missing)`));
    if (allowEnd) options.unshift(h("option", { value: "", selected: !current }, "(End)"));
    else if (!current) options.unshift(h("option", { value: "", selected: true }, "(choose a state)"));
    return h("select", { name, "aria-label": label, onchange: (event) => onPick(event.target.value) }, options);
  }

  nextField(state, names) {
    const select = this.targetSelect("Next", state.Next, names, (target) => {
      const [definition, edited] = this.editable();
      if (target) { edited.Next = target; delete edited.End; } else { delete edited.Next; edited.End = true; }
      this.definition = definition;
      this.onChange(definition, null, true);
    }, { allowEnd: true });
    return this.field("Next", select, "The state that follows, or (End) to end here.", `${this.path}/Next`);
  }

  /** A list editor (rules, retriers, catchers): each row edits item i of state[key]. */
  listEditor(title, key, items, row, template, help) {
    const list = h("div", { class: "inspector-list", dataset: { location: `${this.path}/${key}` } },
      h("div", { class: "inspector-list-head" }, h("h3", {}, title),
        h("button", { type: "button", class: "button button-quiet", onclick: () => {
          const [definition, state] = this.editable();
          state[key] = [...(Array.isArray(state[key]) ? state[key] : []), template()];
          this.definition = definition;
          this.onChange(definition, null, true);
          this.render(definition, this.name);
        } }, `Add ${title.replace(/s$/, "").toLowerCase()}`)),
      h("p", { class: "inspector-help" }, help), this.problemSlot(`${this.path}/${key}`, true));
    items.forEach((item, index) => {
      const location = `${this.path}/${key}[${index}]`;
      const edit = (change) => {
        const [definition, state] = this.editable();
        change(state[key][index]);
        this.definition = definition;
        this.onChange(definition, `${this.name}/${key}/${index}`, false);
      };
      const remove = h("button", { type: "button", class: "button button-quiet inspector-remove",
        "aria-label": `Remove ${title.replace(/s$/, "").toLowerCase()} ${index + 1}`, onclick: () => {
          const [definition, state] = this.editable();
          state[key].splice(index, 1);
          if (!state[key].length) delete state[key];
          this.definition = definition;
          this.onChange(definition, null, true);
          this.render(definition, this.name);
        } }, "×");
      list.append(h("div", { class: "inspector-item", dataset: { location } },
        row(item ?? {}, edit, index), remove, this.problemSlot(location)));
    });
    return list;
  }

  choiceRules(state, names, language) {
    const rules = Array.isArray(state.Choices) ? state.Choices : [];
    const list = this.listEditor("Rules", "Choices", rules, (rule, edit, index) => {
      const next = this.targetSelect(`Choices[${index}].Next`, rule.Next, names, (target) => edit((r) => { r.Next = target; }),
                                     { label: `Rule ${index + 1} Next` });
      if (language === JSONATA) {
        const condition = h("input", { name: `Choices[${index}].Condition`, value: rule.Condition ?? "",
          "aria-label": `Rule ${index + 1} condition`, placeholder: "{% $states.input.value > 1 %}",
          oninput: (event) => edit((r) => { r.Condition = event.target.value; }) });
        return h("div", { class: "rule" }, condition, h("span", { class: "muted" }, "→"), next);
      }
      const operator = Object.keys(rule).find((key) => this.operators.includes(key));
      if (!operator || !("Variable" in rule)) {
        return h("div", { class: "rule" }, h("span", { class: "muted" }, "A compound rule (And/Or/Not): edit it in Code."),
                 h("span", { class: "muted" }, "→"), next);
      }
      const variable = h("input", { name: `Choices[${index}].Variable`, value: rule.Variable,
        "aria-label": `Rule ${index + 1} variable`, oninput: (event) => edit((r) => { r.Variable = event.target.value; }) });
      const value = h("input", { name: `Choices[${index}].Value`, "aria-label": `Rule ${index + 1} value`,
        value: typeof rule[operator] === "string" ? rule[operator] : JSON.stringify(rule[operator]),
        oninput: (event) => edit((r) => { r[operator] = typedValue(operator, event.target.value); }) });
      const select = h("select", { name: `Choices[${index}].Operator`, "aria-label": `Rule ${index + 1} operator`,
        onchange: (event) => {
          edit((r) => {
            const text = value.value;
            delete r[operator];
            // Variable, operator, Next: the order people write a rule in.
            const { Variable: variable, Next: target, ...rest } = r;
            for (const key of Object.keys(r)) delete r[key];
            Object.assign(r, { Variable: variable, [event.target.value]: typedValue(event.target.value, text), ...rest });
            if (target !== undefined) r.Next = target;
          });
          this.render(this.definition, this.name); // the value field now writes the new operator
          this.host.querySelector(`[name="Choices[${index}].Operator"]`)?.focus();
        } }, this.operators.map((op) => h("option", { value: op, selected: op === operator }, op)));
      return h("div", { class: "rule" }, variable, select, value, h("span", { class: "muted" }, "→"), next);
    }, () => ({ Variable: "$.value", StringEquals: "yes", Next: names[0] ?? "" }),
    "Tried in order: the first rule that matches picks the next state.");
    const fallback = this.targetSelect("Default", state.Default, names, (target) => this.set("Default", target || undefined, { structural: true }),
                                       { allowEnd: false, label: "Default" });
    return h("div", {}, list, this.field("Default", fallback, "Where to go when no rule matches (without it, States.NoChoiceMatched).",
                                         `${this.path}/Default`));
  }

  retriers(state) {
    const number = (r, key, edit, index, label) => h("input", { name: `Retry[${index}].${key}`, value: r[key] ?? "",
      "aria-label": `Retry ${index + 1} ${label}`, placeholder: label, inputmode: "decimal",
      oninput: (event) => edit((item) => {
        const text = event.target.value.trim();
        if (!text) delete item[key]; else item[key] = Number.isNaN(Number(text)) ? text : Number(text);
      }) });
    return this.listEditor("Retriers", "Retry", Array.isArray(state.Retry) ? state.Retry : [], (r, edit, index) =>
      h("div", { class: "retrier" }, this.errorsInput(r, edit, `Retry[${index}]`, `Retry ${index + 1}`),
        number(r, "IntervalSeconds", edit, index, "interval s"), number(r, "MaxAttempts", edit, index, "attempts"),
        number(r, "BackoffRate", edit, index, "backoff")),
    () => ({ ErrorEquals: ["States.ALL"], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2 }),
    "Errors to retry, in order: wait IntervalSeconds, times BackoffRate each attempt, up to MaxAttempts.");
  }

  catchers(state, names, language) {
    return this.listEditor("Catchers", "Catch", Array.isArray(state.Catch) ? state.Catch : [], (c, edit, index) =>
      h("div", { class: "catcher" }, this.errorsInput(c, edit, `Catch[${index}]`, `Catch ${index + 1}`),
        h("span", { class: "muted" }, "→"),
        this.targetSelect(`Catch[${index}].Next`, c.Next, names, (target) => edit((item) => { item.Next = target; }),
                          { label: `Catch ${index + 1} Next` }),
        language === JSONPATH ? h("input", { name: `Catch[${index}].ResultPath`, value: c.ResultPath ?? "",
          placeholder: "ResultPath ($.error)", "aria-label": `Catch ${index + 1} ResultPath`,
          oninput: (event) => edit((item) => { if (event.target.value) item.ResultPath = event.target.value; else delete item.ResultPath; }) })
          : null),
    () => ({ ErrorEquals: ["States.ALL"], ResultPath: language === JSONPATH ? "$.error" : undefined, Next: names[0] ?? "" }),
    "When these errors are not retried: go to Next (ResultPath keeps the error in the input).");
  }

  errorsInput(item, edit, name, label) {
    return h("input", { name: `${name}.ErrorEquals`, "aria-label": `${label} errors`,
      value: Array.isArray(item.ErrorEquals) ? item.ErrorEquals.join(", ") : "",
      placeholder: "States.ALL, States.Timeout",
      oninput: (event) => edit((i) => { i.ErrorEquals = event.target.value.split(",").map((e) => e.trim()).filter(Boolean); }) });
  }
}
