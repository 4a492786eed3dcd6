// Where a validator location (`/States/Foo/Next`, `/States/C/Choices[0]/Next`) sits in a definition's
// text, for JSON and for YAML. Both are read into the same tree of nodes with offsets:
//   {kind: "object", from, to, entries: [{key, keyFrom, keyTo, value}]}
//   {kind: "array", from, to, items: [node]}
//   {kind: "scalar", from, to}

import { parseEvents, getScalarValue, EVENT_ID } from "../vendor/js-yaml-5.5.0/js-yaml.js";

/** A JSON syntax error with the offset where reading stopped. */
export class JsonSyntaxError extends Error {
  constructor(message, offset) {
    super(message);
    this.offset = offset;
  }
}

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
const ESCAPES = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const MAX_DEPTH = 512;

/**
 * Reads strict JSON (as AWS does) into the node tree; each object entry also keeps its decoded
 * value, so that `toValue` can refuse duplicate keys instead of silently dropping one.
 * Throws JsonSyntaxError.
 */
export function parseJson(text) {
  let at = 0;
  const fail = (message, where = at) => { throw new JsonSyntaxError(message, where); };
  const skip = () => { while (at < text.length && WHITESPACE.has(text[at])) at++; };
  const expect = (char) => {
    skip();
    if (text[at] !== char) fail(at >= text.length ? `Expected '${char}' before the end` : `Expected '${char}'`);
    at++;
  };

  function string() {
    const from = at;
    at++; // the opening quote
    let value = "";
    for (;;) {
      if (at >= text.length) fail("Unterminated string", from);
      const char = text[at];
      if (char === '"') { at++; return { from, to: at, value }; }
      if (char === "\\") {
        const next = text[at + 1];
        if (next === "u") {
          const hex = text.slice(at + 2, at + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("Invalid \\u escape");
          value += String.fromCharCode(parseInt(hex, 16));
          at += 6;
        } else if (next in ESCAPES) {
          value += ESCAPES[next];
          at += 2;
        } else {
          fail("Invalid escape");
        }
      } else if (char < " ") {
        fail("Control character in a string (write it as an escape)");
      } else {
        value += char;
        at++;
      }
    }
  }

  function node(depth) {
    if (depth > MAX_DEPTH) fail("Nested too deeply");
    skip();
    const from = at;
    const char = text[at];
    if (char === "{") {
      at++;
      const entries = [];
      skip();
      if (text[at] === "}") { at++; return { kind: "object", from, to: at, entries }; }
      for (;;) {
        skip();
        if (text[at] !== '"') fail("Expected a property name in double quotes");
        const key = string();
        expect(":");
        const value = node(depth + 1);
        entries.push({ key: key.value, keyFrom: key.from, keyTo: key.to, value });
        skip();
        if (text[at] === ",") { at++; continue; }
        if (text[at] === "}") { at++; return { kind: "object", from, to: at, entries }; }
        fail("Expected ',' or '}' after a property value");
      }
    }
    if (char === "[") {
      at++;
      const items = [];
      skip();
      if (text[at] === "]") { at++; return { kind: "array", from, to: at, items }; }
      for (;;) {
        items.push(node(depth + 1));
        skip();
        if (text[at] === ",") { at++; continue; }
        if (text[at] === "]") { at++; return { kind: "array", from, to: at, items }; }
        fail("Expected ',' or ']' after an array item");
      }
    }
    if (char === '"') {
      const { to, value } = string();
      return { kind: "scalar", from, to, value };
    }
    for (const [word, value] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(word, at)) { at += word.length; return { kind: "scalar", from, to: at, value }; }
    }
    NUMBER.lastIndex = at;
    const number = NUMBER.exec(text);
    if (number) {
      at += number[0].length;
      return { kind: "scalar", from, to: at, value: Number(number[0]) };
    }
    fail(at >= text.length ? "Unexpected end of the text" : "Unexpected character");
  }

  const root = node(0);
  skip();
  if (at < text.length) fail("Unexpected text after the end of the definition");
  return root;
}

/** The plain value of a parseJson tree; throws on a duplicate key (JSON.parse would keep only one). */
export function toValue(node) {
  if (node.kind === "array") return node.items.map(toValue);
  if (node.kind !== "object") return node.value;
  const result = {};
  for (const entry of node.entries) {
    if (Object.hasOwn(result, entry.key)) {
      throw new JsonSyntaxError(`The key "${entry.key}" appears twice`, entry.keyFrom);
    }
    result[entry.key] = toValue(entry.value);
  }
  return result;
}

/** The node tree of a YAML text (its first document), from js-yaml's parser events; null if empty. */
export function parseYamlPositions(text) {
  const events = parseEvents(text, {});
  let index = 0;
  function node() {
    const event = events[index++];
    if (event.type === EVENT_ID.SCALAR) {
      return { kind: "scalar", from: event.valueStart, to: event.valueEnd, value: getScalarValue(text, event) };
    }
    if (event.type === EVENT_ID.MAPPING) {
      const entries = [];
      let to = event.start + 1;
      while (events[index].type !== EVENT_ID.POP) {
        const key = node();
        const value = node();
        entries.push({ key: String(key.value ?? ""), keyFrom: key.from, keyTo: key.to, value });
        to = value.to;
      }
      index++;
      return { kind: "object", from: event.start, to, entries };
    }
    if (event.type === EVENT_ID.SEQUENCE) {
      const items = [];
      let to = event.start + 1;
      while (events[index].type !== EVENT_ID.POP) {
        items.push(node());
        to = items.at(-1).to;
      }
      index++;
      return { kind: "array", from: event.start, to, items };
    }
    // An alias (*name): its name, where it is written.
    return { kind: "scalar", from: Math.max(0, event.anchorStart - 1), to: event.anchorEnd };
  }
  while (index < events.length && events[index].type !== EVENT_ID.DOCUMENT) index++;
  index++;
  if (index >= events.length || events[index].type === EVENT_ID.POP) return null;
  return node();
}

/**
 * The text range of a validator location in a node tree: a scalar's value, else the key that names
 * the object or array (a whole object is too much to underline). State names may hold "/", so at each
 * object the longest key that the rest of the location starts with is taken. A location that goes
 * further than the text (a missing field) stops at the deepest part that exists.
 * Returns {from, to} or null (the whole definition).
 */
export function locate(root, location) {
  if (!root || !location || location === "/") return null;
  let node = root;
  let rest = location.startsWith("/") ? location.slice(1) : location;
  let place = null;
  while (rest) {
    if (node.kind === "object") {
      let best = null;
      for (const entry of node.entries) {
        const fits = rest === entry.key || rest.startsWith(entry.key + "/") || rest.startsWith(entry.key + "[");
        if (fits && (!best || entry.key.length > best.key.length)) best = entry;
      }
      if (!best) break;
      place = { from: best.keyFrom, to: best.keyTo };
      node = best.value;
      rest = rest.slice(best.key.length).replace(/^\//, "");
    } else if (node.kind === "array") {
      const match = /^\[(\d+)\]\/?/.exec(rest);
      const item = match && node.items[Number(match[1])];
      if (!item) break;
      place = item.kind === "scalar" ? { from: item.from, to: item.to } : { from: item.from, to: item.from + 1 };
      node = item;
      rest = rest.slice(match[0].length);
    } else {
      break;
    }
  }
  if (!rest && node.kind === "scalar") return { from: node.from, to: node.to };
  return place;
}
