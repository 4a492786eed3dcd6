// Edits of a definition (a plain object), as the palette, canvas and inspector make them. Pure
// functions: each takes a definition and returns a new one, so that undo is a list of texts.
// State names are unique across a whole machine (branches and processors included), so a name finds
// its state wherever it is nested.

const clone = (value) => structuredClone(value);

/** The sub-machines of a state: Parallel branches, a Map's ItemProcessor (or older Iterator). */
export function subMachines(state) {
  if (!state || typeof state !== "object") return [];
  if (state.Type === "Parallel" && Array.isArray(state.Branches)) return state.Branches.filter(isMachine);
  if (state.Type === "Map") return [state.ItemProcessor ?? state.Iterator].filter(isMachine);
  return [];
}

function isMachine(value) {
  return value && typeof value === "object" && value.States && typeof value.States === "object";
}

/** {machine, state, path} of the state called `name`; path is its validator location. */
export function findState(definition, name, machine = definition, path = "") {
  if (!isMachine(machine)) return null;
  if (Object.hasOwn(machine.States, name)) {
    return { machine, state: machine.States[name], path: `${path}/States/${name}` };
  }
  for (const [stateName, state] of Object.entries(machine.States)) {
    const subs = state?.Type === "Parallel" ? (state.Branches ?? []).map((b, i) => [b, `/Branches[${i}]`])
      : state?.Type === "Map" ? [[state.ItemProcessor ?? state.Iterator, state.ItemProcessor ? "/ItemProcessor" : "/Iterator"]]
      : [];
    for (const [sub, where] of subs) {
      const found = findState(definition, name, sub, `${path}/States/${stateName}${where}`);
      if (found) return found;
    }
  }
  return null;
}

/** Every state name in the machine, nested ones included. */
export function allNames(machine) {
  if (!isMachine(machine)) return [];
  const names = [];
  for (const [name, state] of Object.entries(machine.States)) {
    names.push(name);
    for (const sub of subMachines(state)) names.push(...allNames(sub));
  }
  return names;
}

/** `base`, or `base 2`, `base 3`… whichever is not taken. */
export function uniqueName(definition, base) {
  const taken = new Set(allNames(definition));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base} ${n}`)) return `${base} ${n}`;
}

/** Calls visit(holder, key) for every field of `machine` that names a state: StartAt, Next, Default,
 * a Choice rule's Next (nested And/Or/Not rules have none), a catcher's Next. */
function eachReference(machine, visit) {
  if (!isMachine(machine)) return;
  if ("StartAt" in machine) visit(machine, "StartAt");
  for (const state of Object.values(machine.States)) {
    if (!state || typeof state !== "object") continue;
    if ("Next" in state) visit(state, "Next");
    if ("Default" in state) visit(state, "Default");
    for (const rule of Array.isArray(state.Choices) ? state.Choices : []) if (rule && "Next" in rule) visit(rule, "Next");
    for (const catcher of Array.isArray(state.Catch) ? state.Catch : []) if (catcher && "Next" in catcher) visit(catcher, "Next");
  }
}

/** Renames a state and every reference to it; returns [definition, problem or null]. */
export function renameState(definition, from, to) {
  to = to.trim();
  if (!to || to === from) return [definition, null];
  if (to.length > 80) return [definition, "A state name is at most 80 characters."];
  if (allNames(definition).includes(to)) return [definition, `There is already a state called "${to}".`];
  const result = clone(definition);
  const found = findState(result, from);
  if (!found) return [definition, null];
  // Keep the state's place in the States object (the code view's order).
  found.machine.States = Object.fromEntries(
    Object.entries(found.machine.States).map(([name, state]) => [name === from ? to : name, state]));
  eachReference(found.machine, (holder, key) => { if (holder[key] === from) holder[key] = to; });
  return [result, null];
}

/** A state body for `type` that continues to `next` (or ends), with the sub-machine states it needs. */
export function newState(definition, type, next, body = null) {
  const state = body ? clone(body) : { Type: type };
  const extra = {};
  const ends = (s) => { if (type !== "Succeed" && type !== "Fail") { if (next) s.Next = next; else s.End = true; } };
  if (body) { ends(state); return [state, extra]; } // a template or a copy: only its way on is new
  if (type === "Choice") {
    let target = next;
    if (!target) { // a Choice must lead somewhere: a Succeed to start from
      target = uniqueName(definition, "Done");
      extra[target] = { Type: "Succeed" };
    }
    state.Choices = [{ Variable: "$.value", NumericEquals: 1, Next: target }];
    state.Default = target;
    return [state, extra];
  }
  if (type === "Wait") state.Seconds = 5;
  if (type === "Fail") Object.assign(state, { Error: "Failed", Cause: "Something went wrong." });
  if (type === "Parallel") {
    const inner = uniqueName(definition, "Branch step");
    state.Branches = [{ StartAt: inner, States: { [inner]: { Type: "Pass", End: true } } }];
  }
  if (type === "Map") {
    const inner = uniqueName(definition, "Each item");
    Object.assign(state, { ItemsPath: "$.items", ItemProcessor: {
      ProcessorConfig: { Mode: "INLINE" }, StartAt: inner, States: { [inner]: { Type: "Pass", End: true } } } });
  }
  ends(state);
  return [state, extra];
}

/** Inserts a new state after `after` (rewiring its Next), or at the end of the top level when
 * nothing is selected. Returns [definition, new name]. */
export function insertAfter(definition, after, type, base, body = null) {
  const result = clone(definition);
  if (!isMachine(result)) { result.States = {}; }
  const found = after ? findState(result, after) : null;
  const machine = found ? found.machine : result;
  const name = uniqueName(result, base ?? type);
  let next = null;
  if (found && found.state && typeof found.state === "object") {
    const previous = found.state;
    if (previous.Type === "Choice") { // inserted on the Default path
      next = previous.Default ?? null;
      previous.Default = name;
    } else if (previous.Type !== "Succeed" && previous.Type !== "Fail") {
      next = previous.Next ?? null;
      delete previous.End;
      previous.Next = name;
    }
  } else if (!found) {
    // At the end of the top level: after its last ending state, or the start of an empty machine.
    const ends = Object.entries(machine.States).filter(([, s]) => s?.End === true);
    if (ends.length) { const [, last] = ends.at(-1); delete last.End; last.Next = name; }
    if (!machine.StartAt || !Object.keys(machine.States).length) machine.StartAt = name;
  }
  const [state, extra] = newState(result, type, next, body);
  const entries = Object.entries(machine.States);
  const at = found ? entries.findIndex(([n]) => n === after) + 1 : entries.length;
  entries.splice(at, 0, [name, state], ...Object.entries(extra));
  machine.States = Object.fromEntries(entries);
  return [result, name];
}

/** Removes a state; what pointed at it now points where it went (or ends, for a Next). */
export function deleteState(definition, name) {
  const result = clone(definition);
  const found = findState(result, name);
  if (!found) return result;
  const { machine, state } = found;
  const onward = state?.Type === "Choice" ? state.Default ?? null : state?.Next ?? null;
  delete machine.States[name];
  eachReference(machine, (holder, key) => {
    if (holder[key] !== name) return;
    if (onward) holder[key] = onward;
    else if (key === "Next" && "Type" in holder) { delete holder.Next; holder.End = true; }
    else if (key === "StartAt") holder.StartAt = Object.keys(machine.States)[0] ?? "";
    else delete holder[key];
  });
  return result;
}

/** A copy of a state inserted right after it. Returns [definition, new name]. */
export function duplicateState(definition, name) {
  const found = findState(definition, name);
  if (!found || !found.state || typeof found.state !== "object") return [definition, null];
  const body = clone(found.state);
  delete body.Next; delete body.End;
  if (body.Type === "Choice") return [definition, null]; // its rules would all be copies: not useful
  for (const sub of subMachines(body)) { // nested names must stay unique
    for (const inner of Object.keys(sub.States)) {
      const [renamed] = renameState({ StartAt: sub.StartAt, States: sub.States }, inner,
                                    uniqueName(definition, `${inner} copy`));
      sub.States = renamed.States; sub.StartAt = renamed.StartAt;
    }
  }
  return insertAfter(definition, name, body.Type, `${name} copy`, body);
}

/** Inserts a new state on the edge from `from` to `to` of `kind` (next, default, choice, catch):
 * that one reference now names the new state, which goes on to `to`. Returns [definition, name]. */
export function insertOnEdge(definition, from, to, kind, type, base, body = null) {
  if (kind === "next") return insertAfter(definition, from, type, base, body);
  const result = clone(definition);
  const found = findState(result, from);
  if (!found || !found.state) return [definition, null];
  const name = uniqueName(result, base ?? type);
  const state = found.state;
  const holder = kind === "default" ? state
    : (kind === "choice" ? state.Choices : state.Catch)?.find?.((item) => item?.Next === to);
  if (!holder) return [definition, null];
  holder[kind === "default" ? "Default" : "Next"] = name;
  const [added, extra] = newState(result, type, to, body);
  const entries = Object.entries(found.machine.States);
  entries.splice(entries.findIndex(([n]) => n === from) + 1, 0, [name, added], ...Object.entries(extra));
  found.machine.States = Object.fromEntries(entries);
  return [result, name];
}

/** [from, to, kind] of a drawing's edge id (`edge-<from>-<to>-<kind>`, maybe `-2`), read with the
 * machine's state names (names may hold dashes); null when it is not an edge between two states. */
export function readEdgeId(definition, id) {
  const match = /^edge-(.*)-(next|default|choice|catch)(?:-\d+)?$/.exec(id);
  if (!match) return null;
  const names = allNames(definition);
  for (const from of names) {
    if (!match[1].startsWith(`${from}-`)) continue;
    const to = match[1].slice(from.length + 1);
    if (names.includes(to)) return [from, to, match[2]];
  }
  return null;
}
