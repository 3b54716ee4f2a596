/*
 * What a state value holds that msgpack would not store as it is, found
 * before msgpackr walks it (codec.ts `encodeValue`).
 *
 * Why: msgpackr writes a function as `undefined` (a `put(k, fn)` stored a
 * key whose value reads back undefined, which `put(k, undefined)` refuses;
 * `{ f() {} }` came back `{ f: undefined }`), and it packs an array hole by
 * hole: a sparse array (`a.length = 2 ** 32 - 1`) held the worker's thread
 * until the step deadline ended it (35 s) before the 32 KiB limit was ever
 * checked. A cycle ended in "Maximum call stack size exceeded".
 *
 * The walk is bounded by the limit itself: every array element and every
 * property takes at least one byte encoded, so after MAX_VALUE_BYTES of
 * them the value is too large whatever they are, and the walk stops there.
 */

/** Deeper than this is refused: a value that refers to itself, or one nested past what anyone stores. */
export const MAX_VALUE_DEPTH = 64;

interface Walk { budget: number; readonly max: number }

const maxBytesOf = (walk: Walk): number => walk.max;

/** Why `value` cannot be stored as it is (a sentence naming where in it), or undefined when it can. */
export function unstorableReason(value: unknown, maxBytes: number): string | undefined {
  // Every state write passes here: the common case (plain data) is walked without building a path string per member
  // (with one, the bundled example measured ~3% slower in three interleaved pairs); only a value it doubts is walked
  // again to say where.
  if (plain(value, 0, { budget: maxBytes, max: maxBytes })) return undefined;
  return reasonIn(value, '', 0, { budget: maxBytes, max: maxBytes });
}

/** True when `value` is certainly storable; false when it is not, or may not be (a Map or Set: see reasonIn). */
function plain(value: unknown, depth: number, walk: Walk): boolean {
  const type = typeof value;
  if (type === 'function' || type === 'symbol') return false;
  if (type !== 'object' || value === null) return true;
  if (depth >= MAX_VALUE_DEPTH) return false;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date) return true;
  if (Array.isArray(value)) {
    const n = value.length;
    if (n > walk.budget) return false;
    walk.budget -= n;
    for (let i = 0; i < n; i++) if (!plain(value[i], depth + 1, walk)) return false;
    return true;
  }
  if (value instanceof Map || value instanceof Set) return false;
  const keys = Object.keys(value as object);
  for (let i = 0; i < keys.length; i++) {
    if (--walk.budget < 0 || !plain((value as Record<string, unknown>)[keys[i]!], depth + 1, walk)) return false;
  }
  return true;
}

function reasonIn(value: unknown, path: string, depth: number, walk: Walk): string | undefined {
  const type = typeof value;
  if (type === 'function') return `it holds a function${at(path)}, which msgpack cannot store (it would read back as undefined); store data only`;
  if (type === 'symbol') return `it holds a symbol${at(path)}, which msgpack cannot store; store data only`;
  if (type !== 'object' || value === null) return undefined;
  if (depth >= MAX_VALUE_DEPTH) {
    return `it nests deeper than ${MAX_VALUE_DEPTH} levels${at(path)}: it refers to itself (a cycle) or is nested too deep to store; store data without cycles`;
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date) return undefined;
  if (Array.isArray(value)) {
    const n = value.length;
    if (n > walk.budget) return tooLong(n, walk.budget, path);
    walk.budget -= n;
    for (let i = 0; i < n; i++) {
      const reason = reasonIn(value[i], `${path}[${i}]`, depth + 1, walk);
      if (reason !== undefined) return reason;
    }
    return undefined;
  }
  const entries: Iterable<[string, unknown]> = value instanceof Map || value instanceof Set
    ? [...value.entries()].map(([k, v]) => [String(k), v] as [string, unknown])
    : Object.entries(value as object);
  for (const [key, item] of entries) {
    if (--walk.budget < 0) return `it has more members${at(path)} than the ${maxBytesOf(walk)}-byte limit can hold (each takes at least a byte); split it over several keys`;
    const reason = reasonIn(item, `${path}.${key}`, depth + 1, walk);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

function tooLong(length: number, budget: number, path: string): string {
  return `it holds an array of length ${length}${at(path)}, which encodes to at least ${length} bytes, over what is left of the limit (${budget} bytes)${
    length > 2 * budget ? ' (a sparse array? its holes are written one by one)' : ''}; store its set indexes as an object, or split it over several keys`;
}

const at = (path: string): string => (path === '' ? '' : ` at ${path.length > 80 ? `${path.slice(0, 80)}…` : path}`);
