// The definition's code editor: CodeMirror over the form's <textarea data-definition-editor>.
// Progressive enhancement: the textarea stays in the form (hidden, kept in sync) so the normal POST
// works, and without JavaScript it is the editor. Problems come from the server's validator (the one
// ValidateStateMachineDefinition uses), as you type; each is marked at its place in the text.

import {
  basicSetup, classHighlighter, Compartment, EditorState, EditorView, forceLinting, indentWithTab, json,
  keymap, lintGutter, linter, syntaxHighlighting, yaml,
} from "../vendor/codemirror-6.0.2/codemirror.js";
import { CORE_SCHEMA, dump, load } from "../vendor/js-yaml-5.5.0/js-yaml.js";
import { csrfToken } from "./app.js";
import { locate, parseJson, parseYamlPositions, toValue } from "./definition-map.js";
import { theme } from "./editor-theme.js";

const VALIDATE_DELAY_MS = 300;
const FORMATS = { json: { name: "JSON", language: json }, yaml: { name: "YAML", language: yaml } };

/** A message and a place for a text that cannot be read as `format`; null when it can. */
function readProblem(text, format) {
  try {
    readValue(text, format);
    return null;
  } catch (error) {
    return error;
  }
}

/** The value of a JSON or YAML text; throws (with .offset or .mark.position) when it is not one. */
function readValue(text, format) {
  if (format === "json") return toValue(parseJson(text));
  return load(text, { schema: CORE_SCHEMA });
}

function errorOffset(error) {
  return error.offset ?? error.mark?.position ?? 0;
}

function errorReason(error) {
  return error.reason ?? error.message;
}

/** The offset of a 1-based line and column counted in characters (Python's), clamped to the text. */
function offsetOf(doc, line, column) {
  const { from, text } = doc.line(Math.min(Math.max(line, 1), doc.lines));
  let offset = 0;
  for (let count = 1; count < column && offset < text.length; count++) {
    offset += text.codePointAt(offset) > 0xffff ? 2 : 1;
  }
  return from + offset;
}

function where(doc, offset) {
  const line = doc.lineAt(offset);
  return `line ${line.number}, column ${offset - line.from + 1}`;
}

function enhance(textarea) {
  const form = textarea.form;
  const toggle = form.querySelector("[data-editor-format]");
  const radios = [...toggle.querySelectorAll('input[name="editor_format"]')];
  const label = document.getElementById("definition-label");
  let format = radios.find((radio) => radio.checked)?.value === "yaml" ? "yaml" : "json";

  let text = textarea.value;
  // A reload restores the YAML choice; a text sent as JSON (YAML converts on submit) is shown as YAML.
  if (format === "yaml" && text.trim() && !readProblem(text, "json")) {
    text = dump(readValue(text, "json"), { lineWidth: -1 });
  }

  const message = document.createElement("p");
  message.className = "editor-message";
  message.setAttribute("role", "alert");
  message.hidden = true;
  const host = document.createElement("div");
  host.className = "code-editor";
  const status = document.createElement("p");
  status.className = "editor-status";
  status.id = "definition-status";
  status.setAttribute("role", "status");
  status.textContent = "Checking…";
  const list = document.createElement("ul");
  list.className = "editor-problems";
  list.setAttribute("aria-label", "Validation problems");
  const hint = document.createElement("p");
  hint.className = "editor-hint";
  hint.textContent = "Ctrl+F searches, Ctrl+Shift+[ folds. Tab indents: press Esc, then Tab, to leave the editor.";
  textarea.after(message, host, status, list, hint);
  textarea.hidden = true;
  // The label now names the editor, not the hidden textarea.
  label.removeAttribute("for");
  toggle.hidden = false;

  const showMessage = (text) => {
    message.textContent = text;
    message.hidden = !text;
  };

  const language = new Compartment();
  const view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: text,
      extensions: [
        basicSetup,
        keymap.of([indentWithTab]),
        EditorState.tabSize.of(2),
        // Its styles go in <style> elements, which the Content-Security-Policy admits by this nonce.
        EditorView.cspNonce.of(textarea.dataset.cspNonce ?? ""),
        language.of(FORMATS[format].language()),
        syntaxHighlighting(classHighlighter),
        lintGutter(),
        linter(check, { delay: VALIDATE_DELAY_MS }),
        theme,
        EditorView.contentAttributes.of({
          "aria-labelledby": label.id, "aria-describedby": status.id, spellcheck: "false",
        }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) {
            textarea.value = update.state.doc.toString();
            showMessage("");
          }
        }),
      ],
    }),
  });
  textarea.value = text;

  /** The lint source: the validator's diagnostics for the text as it is now, each at its place. */
  async function check(view) {
    const state = view.state;
    const source = state.doc.toString();
    const checkedFormat = format;
    let definition = source;
    let tree = null;
    if (checkedFormat === "yaml") {
      try {
        definition = source.trim() ? JSON.stringify(readValue(source, "yaml")) : "";
        tree = parseYamlPositions(source);
      } catch (error) {
        const from = Math.min(errorOffset(error), state.doc.length);
        const diagnostics = [{ from, to: from, severity: "error", source: "YAML",
                               message: `Not valid YAML: ${errorReason(error)}` }];
        showProblems(state, diagnostics);
        return diagnostics;
      }
    } else {
      try {
        tree = parseJson(source);
      } catch {
        tree = null; // the server says where Python's JSON reader stops
      }
    }
    const answer = await validate(definition);
    if (view.state.doc !== state.doc || format !== checkedFormat) return []; // outdated: a new check follows
    if (answer === null) {
      status.textContent = "The definition could not be checked (is the server reachable?). It is checked again when you type.";
      return [];
    }
    const diagnostics = answer.diagnostics.map((problem) => diagnostic(state, tree, problem));
    showProblems(state, diagnostics, answer.truncated);
    return diagnostics;
  }

  function diagnostic(state, tree, problem) {
    let range = null;
    if (problem.line) {
      const at = offsetOf(state.doc, problem.line, problem.column ?? 1);
      range = { from: at, to: Math.min(at + 1, state.doc.line(state.doc.lineAt(at).number).to) };
    } else {
      range = locate(tree, problem.location);
    }
    if (!range) { // the whole definition: its first line
      range = { from: 0, to: state.doc.lines ? state.doc.line(1).to : 0 };
    }
    const place = problem.location ? ` (at ${problem.location})` : "";
    return {
      from: range.from, to: range.to, severity: problem.severity === "WARNING" ? "warning" : "error",
      source: problem.code, message: problem.message + place,
    };
  }

  async function validate(definition) {
    const type = form.querySelector('input[name="type"]:checked')?.value ?? "STANDARD";
    try {
      const response = await fetch(textarea.dataset.validateUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ definition, type }),
      });
      const isJson = response.headers.get("Content-Type")?.startsWith("application/json");
      if (!response.ok || !isJson) return null;
      return await response.json();
    } catch {
      return null;
    }
  }

  function showProblems(state, diagnostics, truncated = false) {
    list.replaceChildren();
    const errors = diagnostics.filter((item) => item.severity === "error").length;
    const warnings = diagnostics.length - errors;
    const counts = [errors && `${errors} error${errors === 1 ? "" : "s"}`,
                    warnings && `${warnings} warning${warnings === 1 ? "" : "s"}`].filter(Boolean);
    status.textContent = counts.length ? `${counts.join(", ")}${truncated ? " (the first ones)" : ""}.`
                                       : "No problems: the definition is valid.";
    status.dataset.state = errors ? "error" : warnings ? "warning" : "ok";
    for (const item of [...diagnostics].sort((a, b) => a.from - b.from)) {
      const entry = document.createElement("li");
      entry.className = `editor-problem editor-problem-${item.severity}`;
      const button = document.createElement("button");
      button.type = "button";
      const line = state.doc.lineAt(Math.min(item.from, state.doc.length)).number;
      const place = document.createElement("span");
      place.className = "editor-problem-line";
      place.textContent = `Line ${line}`;
      const text = document.createElement("span");
      text.textContent = item.message;
      const code = document.createElement("span");
      code.className = "editor-problem-code";
      code.textContent = item.source;
      button.append(place, text, code);
      button.addEventListener("click", () => {
        const from = Math.min(item.from, view.state.doc.length);
        const to = Math.min(item.to, view.state.doc.length);
        view.dispatch({ selection: { anchor: from, head: to },
                        effects: EditorView.scrollIntoView(from, { y: "center" }) });
        view.focus();
      });
      entry.append(button);
      list.append(entry);
    }
  }

  /** Shows the text as `target` (JSON or YAML); refuses, keeping the text, when it cannot be read. */
  function switchTo(target) {
    if (target === format) return true;
    const source = view.state.doc.toString();
    let converted = "";
    if (source.trim()) {
      let value;
      try {
        value = readValue(source, format);
      } catch (error) {
        const at = Math.min(errorOffset(error), view.state.doc.length);
        showMessage(`This cannot be shown as ${FORMATS[target].name}: the ${FORMATS[format].name} has a ` +
                    `problem at ${where(view.state.doc, at)}: ${errorReason(error)}. Your text is unchanged.`);
        return false;
      }
      converted = target === "yaml" ? dump(value, { lineWidth: -1 }) : JSON.stringify(value, null, 2) + "\n";
    }
    format = target;
    view.dispatch({
      changes: { from: 0, to: view.state.doc.length, insert: converted },
      effects: language.reconfigure(FORMATS[target].language()),
    });
    showMessage("");
    forceLinting(view);
    return true;
  }

  for (const radio of radios) {
    radio.addEventListener("change", () => {
      if (!radio.checked || switchTo(radio.value)) return;
      for (const other of radios) other.checked = other.value === format;
    });
  }
  // The type decides what the validator allows (Express machines cannot do everything).
  for (const input of form.querySelectorAll('input[name="type"]')) {
    input.addEventListener("change", () => forceLinting(view));
  }
  // The server takes JSON: a YAML view is converted back as the form is sent.
  form.addEventListener("submit", (event) => {
    if (format !== "yaml") return;
    const source = view.state.doc.toString();
    try {
      textarea.value = source.trim() ? JSON.stringify(readValue(source, "yaml"), null, 2) : "";
    } catch (error) {
      event.preventDefault();
      const at = Math.min(errorOffset(error), view.state.doc.length);
      showMessage(`The YAML cannot be sent: it has a problem at ${where(view.state.doc, at)}: ` +
                  `${errorReason(error)}.`);
      view.focus();
    }
  });
  return view;
}

const textarea = document.querySelector("textarea[data-definition-editor]");
if (textarea) {
  const view = enhance(textarea);
  // For tests and the designer's other panes.
  textarea.closest(".definition-field").editorView = view;
}
