// The start form's input editor: CodeMirror (JSON) over <textarea data-json-input>, checked as you
// type, first by the browser's reader (the exact place of a syntax error) and then by the server's
// strict reader, the one StartExecution uses (`POST /editor/check-input/`: it also refuses what
// JSON.parse takes and AWS does not, such as 1e400). A form with a known problem is not sent; the
// server checks again anyway. Without JavaScript the textarea is the editor.

import {
  basicSetup, classHighlighter, EditorState, EditorView, forceLinting, indentWithTab, json, keymap,
  lintGutter, linter, syntaxHighlighting,
} from "../vendor/codemirror-6.0.2/codemirror.js";
import { csrfToken } from "./app.js";
import { parseJson } from "./definition-map.js";
import { theme } from "./editor-theme.js";

const CHECK_DELAY_MS = 250;

/** The offset of a 1-based line and column counted in code points (Python's), clamped to the text. */
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

function enhance(form, textarea) {
  const message = form.querySelector("[data-json-error]");
  const label = document.getElementById(`${textarea.id}-label`);
  const host = document.createElement("div");
  host.className = "code-editor input-editor";
  textarea.after(host);
  textarea.hidden = true;
  label?.removeAttribute("for");

  // The last check's answer for `text`: null (no problem) or {message, from}.
  let checked = { text: null, problem: null };

  const show = (problem) => {
    message.textContent = problem ? problem.message : "";
    message.hidden = !problem;
    view.contentDOM.setAttribute("aria-invalid", problem ? "true" : "false");
  };

  async function problemOf(doc) {
    const text = doc.toString();
    if (checked.text === text) return checked.problem;
    let problem = null;
    const source = text.trim() || "{}";
    try {
      parseJson(source);
    } catch (error) {
      const at = Math.min(text.indexOf(source) + (error.offset ?? 0), doc.length);
      problem = { from: at, message: `The input is not valid JSON (${where(doc, at)}): ${error.message}.` };
    }
    if (!problem) problem = await serverProblem(doc, text);
    checked = { text, problem };
    return problem;
  }

  /** The strict reader's verdict; null when it accepts the text or cannot be reached. */
  async function serverProblem(doc, text) {
    try {
      const response = await fetch(textarea.dataset.checkUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ input: text }),
      });
      if (!response.ok) return null;
      const answer = await response.json();
      if (answer.ok) return null;
      const from = answer.line ? offsetOf(doc, answer.line, answer.column ?? 1) : 0;
      return { from, message: answer.message };
    } catch {
      return null; // the server checks again when the form is sent
    }
  }

  async function lint(view) {
    const doc = view.state.doc;
    const problem = await problemOf(doc);
    if (view.state.doc !== doc) return [];
    show(problem);
    if (!problem) return [];
    const to = Math.min(problem.from + 1, doc.lineAt(problem.from).to);
    return [{ from: problem.from, to: Math.max(to, problem.from), severity: "error", message: problem.message }];
  }

  const submit = () => { form.requestSubmit(); return true; };
  const view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        basicSetup,
        keymap.of([{ key: "Mod-Enter", run: submit }, indentWithTab]),
        EditorState.tabSize.of(2),
        EditorView.cspNonce.of(textarea.dataset.cspNonce ?? ""),
        json(),
        syntaxHighlighting(classHighlighter),
        lintGutter(),
        linter(lint, { delay: CHECK_DELAY_MS }),
        theme,
        EditorView.contentAttributes.of({
          "aria-labelledby": label?.id ?? "", "aria-describedby": message.id, spellcheck: "false",
        }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) textarea.value = update.state.doc.toString();
        }),
      ],
    }),
  });
  if (textarea.getAttribute("aria-invalid") === "true") view.contentDOM.setAttribute("aria-invalid", "true");

  let sending = false;
  form.addEventListener("submit", async (event) => {
    if (sending) return;
    event.preventDefault();
    const problem = await problemOf(view.state.doc);
    show(problem);
    if (problem) {
      forceLinting(view);
      view.dispatch({ selection: { anchor: problem.from }, effects: EditorView.scrollIntoView(problem.from) });
      view.focus();
      return;
    }
    sending = true;
    form.querySelector('button[type="submit"]')?.setAttribute("disabled", "");
    form.submit();
  });
  return view;
}

for (const form of document.querySelectorAll("form[data-json-form]")) {
  const textarea = form.querySelector("textarea[data-json-input]");
  if (textarea) form.querySelector(".input-field").editorView = enhance(form, textarea);
}
