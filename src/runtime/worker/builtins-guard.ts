/**
 * The built-ins a worker's own encoding leans on, as they were once the
 * processor modules loaded (see `acceptBuiltins`), and the means to find and
 * undo a processor's changes to them while records run.
 *
 * A processor shares its thread's globals with every other record and
 * processor there. One that sets `Object.prototype.x` (enumerable: every
 * record's headers gained it), replaces `JSON.stringify` (every JSON sink
 * wrote `{}`), adds a `toJSON` to a prototype, or replaces
 * `Array.prototype[Symbol.iterator]` (the worker's own loops saw no outputs:
 * the batch's records were released with nothing written) silently corrupted
 * or lost other records. The worker checks right after each processor call
 * (what changed then is that call's doing), again when an asynchronous step
 * settles and after its outputs are serialized (a getter or toJSON may
 * change them), and once more before a task's result is packed: a change is
 * undone and the step (or, at the end, the task) fails (see stage-chain.ts).
 * The check per step reads only the built-ins that corrupt records most
 * directly (a few identity reads and `in` tests, ~10 ns); a hit sweeps
 * every watched property and undoes every change it finds.
 */

import { WalrusError } from '../../errors/index.js';

type Watched = readonly [name: string, target: object];

const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
/** The globals watched: a processor may add globals of its own, but not replace these. */
const GLOBALS = ['JSON', 'Object', 'Array', 'Map', 'Set', 'Promise', 'Reflect', 'Symbol', 'Buffer', 'Uint8Array',
  'ArrayBuffer', 'DataView', 'TextEncoder', 'TextDecoder', 'String', 'Number', 'Math', 'structuredClone'];
/**
 * Own properties of these are compared one by one in the full sweep: one replaced or deleted is put back. A
 * property added is removed only from the prototypes of JSON values (TO_JSON_FREE), and only when it is
 * enumerable (for...in, and so the envelope's headers, would see it) or a `toJSON`: a polyfill defined the usual
 * way (not enumerable), or an addition to a namespace such as `Reflect.metadata`, is left alone.
 */
const WATCHED: Watched[] = [
  ['Object', Object], ['Object.prototype', Object.prototype], ['Array', Array], ['Array.prototype', Array.prototype],
  ['JSON', JSON], ['Reflect', Reflect], ['Math', Math], ['Symbol', Symbol], ['Function.prototype', Function.prototype],
  ['String', String], ['String.prototype', String.prototype], ['Number', Number], ['Number.prototype', Number.prototype],
  ['Boolean.prototype', Boolean.prototype], ['BigInt.prototype', BigInt.prototype], ['Date.prototype', Date.prototype],
  ['Map.prototype', Map.prototype], ['Set.prototype', Set.prototype], ['Promise', Promise], ['Promise.prototype', Promise.prototype],
  ['ArrayBuffer.prototype', ArrayBuffer.prototype], ['DataView.prototype', DataView.prototype],
  ['TypedArray.prototype', typedArrayPrototype], ['Uint8Array.prototype', Uint8Array.prototype],
  ['Buffer', Buffer], ['Buffer.prototype', Buffer.prototype],
  ['TextEncoder.prototype', TextEncoder.prototype], ['TextDecoder.prototype', TextDecoder.prototype],
];

const hasOwn = Object.hasOwn;
const same = Object.is;
const ownKeys = Reflect.ownKeys;
const describe = Object.getOwnPropertyDescriptor;
const define = Reflect.defineProperty;
const remove = Reflect.deleteProperty;
let stringify = JSON.stringify;
let parse = JSON.parse;
let arrayIterator = Array.prototype[Symbol.iterator];
const TO_JSON_FREE = [Object.prototype, Array.prototype, String.prototype, Number.prototype, Boolean.prototype, BigInt.prototype];

// The guard itself runs on the built-ins it checks, so it uses none a processor could have replaced: indexed
// loops (a replaced array iterator makes for...of see nothing), functions taken above, `in` on a null-prototype set.
interface Snapshot { name: string; target: object; keys: PropertyKey[]; known: Record<PropertyKey, true>; descriptors: PropertyDescriptor[]; closed: boolean }

const snapshot = (name: string, target: object, keys: PropertyKey[], closed: boolean): Snapshot => {
  const known = Object.create(null) as Record<PropertyKey, true>;
  for (let i = 0; i < keys.length; i++) known[keys[i]!] = true;
  return { name, target, keys, known, descriptors: keys.map((key) => describe(target, key)!), closed };
};
const takeSnapshots = (): Snapshot[] => [
  snapshot('globalThis', globalThis, GLOBALS.filter((n) => hasOwn(globalThis, n)), false),
  ...WATCHED.map(([name, target]) => snapshot(name, target, ownKeys(target), TO_JSON_FREE.includes(target))),
];
let snapshots = takeSnapshots();

/** An empty array: `for...in` over it sees exactly the enumerable properties of Array.prototype and Object.prototype. */
const PROBE: unknown[] = [];
const enumerableInherited = (): number => {
  let n = 0;
  for (const _ in PROBE) n++;
  return n;
};
/** The cheap check's baselines: which TO_JSON_FREE prototypes see a `toJSON` (`in`: no getter runs), and how many enumerable inherited properties arrays see. */
const [OBJECT_P, ARRAY_P, STRING_P, NUMBER_P, BOOLEAN_P, BIGINT_P] = TO_JSON_FREE as [object, object, object, object, object, object];
// One `in` per prototype, each at a call site of its own (one shape each: a loop over them is ten times slower).
const toJsonSeen = (): number => ('toJSON' in OBJECT_P ? 1 : 0) | ('toJSON' in ARRAY_P ? 2 : 0) | ('toJSON' in STRING_P ? 4 : 0)
  | ('toJSON' in NUMBER_P ? 8 : 0) | ('toJSON' in BOOLEAN_P ? 16 : 0) | ('toJSON' in BIGINT_P ? 32 : 0);
let toJsonBaseline = toJsonSeen();
let enumerableBaseline = enumerableInherited();

/**
 * Takes the built-ins as they are now as the thread's own: called once a
 * processor module is imported and its `init` has run. What a module does
 * when it loads — the common `BigInt.prototype.toJSON = ...` line, a library
 * that installs a polyfill — is the same in every worker thread and for every
 * record, so it is kept; only what changes while records run is undone.
 */
export function acceptBuiltins(): void {
  stringify = JSON.stringify;
  parse = JSON.parse;
  arrayIterator = Array.prototype[Symbol.iterator];
  snapshots = takeSnapshots();
  toJsonBaseline = toJsonSeen();
  enumerableBaseline = enumerableInherited();
}

/** What a processor changed, undone; `restored` is false when some of it could not be (a non-configurable property). */
export interface BuiltinChanges { changed: string[]; restored: boolean }

/**
 * The cheap check after every step (a few identity reads and `in` tests,
 * ~10 ns: it runs several times per record): the built-ins whose change
 * corrupts records most directly, against what the thread accepted as its
 * own (`acceptBuiltins`), so a `toJSON` a module added as it loaded does not
 * hit every time. A hit runs the full sweep, which also undoes what it finds.
 */
export function checkBuiltins(): BuiltinChanges | undefined {
  let hit = JSON.stringify !== stringify || JSON.parse !== parse || Array.prototype[Symbol.iterator] !== arrayIterator;
  if (!hit && (toJsonSeen() !== toJsonBaseline || enumerableInherited() !== enumerableBaseline)) hit = true;
  return hit ? sweepBuiltins() : undefined;
}

/** Every watched property compared with its snapshot (after a hit of the cheap check; ~50 µs): changes are undone. */
export function sweepBuiltins(): BuiltinChanges | undefined {
  const changed: string[] = [];
  let restored = true;
  for (let s = 0; s < snapshots.length; s++) {
    const { name, target, keys, known, descriptors, closed } = snapshots[s]!;
    if (closed) {
      const now = ownKeys(target);
      for (let i = 0; i < now.length; i++) {
        const key = now[i]!;
        if (key in known || (key !== 'toJSON' && describe(target, key)?.enumerable !== true)) continue;
        changed[changed.length] = `${label(name, key)} added`;
        if (!remove(target, key)) restored = false;
      }
    }
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const was = descriptors[i]!;
      const now = describe(target, key);
      if (now !== undefined && same(now.value, was.value) && now.get === was.get && now.set === was.set && now.enumerable === was.enumerable) continue;
      changed[changed.length] = `${label(name, key)} ${now === undefined ? 'deleted' : 'replaced'}`;
      if (!define(target, key, was)) restored = false;
    }
  }
  return changed.length === 0 ? undefined : { changed, restored };
}

const label = (name: string, key: PropertyKey): string =>
  typeof key === 'symbol' ? `${name}[${key.description ?? ''}]` : name === 'globalThis' ? String(key) : `${name}.${String(key)}`;

/**
 * The failure of a step (or of a whole task, `processor` undefined) during
 * which built-ins changed. Retried: the change was undone, and a record that
 * only shared the thread with the culprit passes when it runs again; the
 * culprit's own record changes them again and is dead-lettered with this.
 * Built-ins that could not be put back leave the thread unusable: it is
 * ended (an uncaught error), and crash containment runs its records again
 * on a fresh one.
 */
export function builtinsChangedError(changes: BuiltinChanges, processor: string | undefined, recordId: string | undefined, sure: boolean): WalrusError {
  const who = processor === undefined ? 'a processor of this task' : `processor "${processor}"`;
  const when = recordId === undefined ? '' : ` while it ran on record ${recordId}${sure ? '' : ' (or another record running in that thread at the same time did)'}`;
  const error = new WalrusError('PROCESSOR_ERROR',
    `${who} changed built-ins its worker thread shares with every other record (${changes.changed.slice(0, 5).join(', ')}${changes.changed.length > 5 ? ', ...' : ''})${when}; ` +
    `${changes.restored ? 'they were put back' : 'they could not be put back, so the worker thread is replaced'}, and nothing of this attempt is written. ` +
    'A processor must not change built-ins (prototypes, JSON, globals).', { retriable: true, context: { changed: changes.changed } });
  if (!changes.restored) process.nextTick(() => { throw error; });
  return error;
}
