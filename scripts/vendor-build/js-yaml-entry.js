// The one module static/js/editor.js imports from js-yaml: text <-> value, and the parser events with offsets.
export { load, dump, YAMLException, parseEvents, getScalarValue, EVENT_ID, CORE_SCHEMA, JSON_SCHEMA } from "js-yaml";
