// The one module Stepwise's editor imports (static/js/editor.js): CodeMirror 6 and its JSON/YAML modes.
export { basicSetup } from "codemirror";
export { EditorView, keymap, ViewPlugin } from "@codemirror/view";
export { EditorState, Compartment, StateEffect, StateField } from "@codemirror/state";
export { json } from "@codemirror/lang-json";
export { yaml } from "@codemirror/lang-yaml";
export { linter, lintGutter, setDiagnostics, forceLinting, openLintPanel } from "@codemirror/lint";
export { syntaxTree, ensureSyntaxTree, foldGutter, bracketMatching, indentUnit, syntaxHighlighting } from "@codemirror/language";
// Token classes (tok-string, tok-number, …) coloured by static/css/editor.css, light and dark.
export { classHighlighter } from "@lezer/highlight";
export { indentWithTab, defaultKeymap, history } from "@codemirror/commands";
export { openSearchPanel, searchKeymap } from "@codemirror/search";
