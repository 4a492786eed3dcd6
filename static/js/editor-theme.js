// The code editors' look (the definition's in editor.js, the execution input's in input-editor.js),
// drawn from the page's CSS variables so that light and dark both read well.

import { EditorView } from "../vendor/codemirror-6.0.2/codemirror.js";

export const theme = EditorView.theme({
  "&": {
    backgroundColor: "var(--surface)", color: "var(--text)", border: "1px solid var(--border)",
    borderRadius: "9px", fontSize: ".88rem", maxHeight: "70vh", overflow: "hidden",
  },
  "&.cm-focused": {
    outline: "none", borderColor: "var(--accent)",
    boxShadow: "0 0 0 3px color-mix(in srgb, var(--accent) 22%, transparent)",
  },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.5" },
  ".cm-content": { caretColor: "var(--text)", minHeight: "22rem" },
  ".cm-gutters": { backgroundColor: "var(--surface-2)", color: "var(--muted)", borderRight: "1px solid var(--border)" },
  ".cm-activeLine": { backgroundColor: "color-mix(in srgb, var(--accent) 6%, transparent)" },
  ".cm-activeLineGutter": { backgroundColor: "color-mix(in srgb, var(--accent) 12%, transparent)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": {
    backgroundColor: "color-mix(in srgb, var(--accent) 28%, transparent) !important",
  },
  ".cm-cursor": { borderLeftColor: "var(--text)" },
  ".cm-panels": { backgroundColor: "var(--surface-2)", color: "var(--text)" },
  ".cm-tooltip": { backgroundColor: "var(--surface)", color: "var(--text)", border: "1px solid var(--border)" },
});
