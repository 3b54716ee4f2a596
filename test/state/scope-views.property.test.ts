import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryState, type ScopeView } from '../../src/state/store/memory-state.js';

// MemoryState keeps each preloaded scope's entries as a view that is replaced,
// never modified, when a visible entry of the scope changes. Checked against
// the definition: the scope's own entry, then `scope@...` in key order, with
// the visible (staged, else committed) bytes; and a view handed out earlier is
// accepted by scopeIs exactly when the scope's entries are still the same.

type Op =
  | { kind: 'stage'; owner: number; key: string; del: boolean }
  | { kind: 'commit'; owner: number }
  | { kind: 'load'; key: string }
  | { kind: 'view'; scope: string };

const KEYS = ['a', 'a@1', 'a@2', 'a@10', 'a@2@x', 'a@2@y', 'ab', 'ab@1', 'b', 'b@1', '@a'];
const SCOPES = ['a', 'a@2', 'ab', 'b', '@a', 'zz'];
const key = fc.constantFrom(...KEYS);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('stage' as const), owner: fc.integer({ min: 0, max: 3 }), key, del: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('commit' as const), owner: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('load' as const), key }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('view' as const), scope: fc.constantFrom(...SCOPES) }) },
);

/** The scope's entries by definition, from getBytes over every key. */
function expected(state: MemoryState, scope: string): Array<[string, Uint8Array]> {
  const out: Array<[string, Uint8Array]> = [];
  const own = state.getBytes(scope);
  if (own !== undefined) out.push([scope, own]);
  for (const k of [...KEYS].sort()) {
    if (!k.startsWith(`${scope}@`)) continue;
    const bytes = state.getBytes(k);
    if (bytes !== undefined) out.push([k, bytes]);
  }
  return out;
}

const same = (a: ScopeView, b: ScopeView) => a.length === b.length && a.every(([k, v], i) => b[i]![0] === k && b[i]![1] === v);

test('property: scope views equal the scope\'s entries after any staging, commits and loads; scopeIs accepts an old view exactly when nothing in the scope changed', () => {
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    const state = new MemoryState();
    const owners = [0, 1, 2, 3].map((id) => ({ id }));
    const staged = new Map<number, Array<[string, Uint8Array | null]>>();
    const handedOut: Array<{ scope: string; view: ScopeView; entries: Array<[string, Uint8Array]> }> = [];
    let n = 0;
    for (const o of ops) {
      if (o.kind === 'stage') {
        const write: [string, Uint8Array | null] = [o.key, o.del ? null : Uint8Array.of(n++ & 255)];
        state.stage(owners[o.owner]!, [write]);
        staged.set(o.owner, [...(staged.get(o.owner) ?? []), write]);
      } else if (o.kind === 'commit') {
        state.applyCommitted(staged.get(o.owner) ?? [], owners[o.owner]!);
        staged.delete(o.owner);
      } else if (o.kind === 'load') {
        state.setCommitted(o.key, Uint8Array.of(n++ & 255));
      } else {
        const view = state.scopeEntries(o.scope);
        const want = expected(state, o.scope);
        assert.ok(same(view, want), `view of "${o.scope}": ${JSON.stringify(view.map(([k]) => k))}, expected ${JSON.stringify(want.map(([k]) => k))}`);
        assert.equal(state.scopeIs(o.scope, view), true);
        handedOut.push({ scope: o.scope, view, entries: want });
      }
      for (const h of handedOut) {
        assert.equal(state.scopeIs(h.scope, h.view), same(h.entries, expected(state, h.scope)), `scopeIs("${h.scope}") of a view handed out earlier`);
      }
    }
  }), { numRuns: 400 });
});

test('a view handed out is never modified; an equal copy is accepted too, a changed scope is not', () => {
  const state = new MemoryState();
  const owner = { id: 1 };
  state.stage(owner, [['k', Uint8Array.of(1)], ['k@2', Uint8Array.of(2)], ['k@1', Uint8Array.of(3)]]);
  const view = state.scopeEntries('k');
  const frozen = view.map(([k, v]) => [k, v] as const);
  assert.deepEqual(view.map(([k]) => k), ['k', 'k@1', 'k@2']);
  assert.equal(state.scopeEntries('k'), view, 'unchanged: the same array again');
  assert.equal(state.scopeIs('k', view.map(([k, v]) => [k, v] as const)), true, 'an equal copy (e.g. after the view was dropped) is compared entry by entry');

  state.stage(owner, [['k@15', Uint8Array.of(4)]]);
  assert.deepEqual(view.map(([k, v]) => [k, v]), frozen.map(([k, v]) => [k, v]), 'the old view is untouched');
  assert.equal(state.scopeIs('k', view), false, 'an entry was added');
  const next = state.scopeEntries('k');
  assert.deepEqual(next.map(([k]) => k), ['k', 'k@1', 'k@15', 'k@2']);

  state.applyCommitted([['k@15', Uint8Array.of(4)]], owner);
  assert.equal(state.scopeIs('k', next), false, 'committed bytes of another array are a change');
  const committed = state.scopeEntries('k');
  state.applyCommitted([['k', state.getBytes('k')!]], owner);
  assert.equal(state.scopeIs('k', committed), true, 'committing the very bytes already visible changes nothing');
  state.stage(owner, [['k@1', null]]);
  assert.deepEqual(state.scopeEntries('k').map(([k]) => k), ['k', 'k@15', 'k@2'], 'a staged delete removes the entry');
});

test('views are bounded: the least recently used are dropped and rebuilt on demand, still exact', () => {
  const state = new MemoryState();
  const owner = { id: 1 };
  const scopes = Array.from({ length: 10_000 }, (_, i) => `c${i}`);
  for (const s of scopes) state.stage(owner, [[`${s}@w`, Uint8Array.of(1)]]);
  const first = state.scopeEntries(scopes[0]!);
  for (const s of scopes.slice(1)) state.scopeEntries(s);
  const again = state.scopeEntries(scopes[0]!);
  assert.notEqual(again, first, 'the first view was dropped (more scopes than kept) and built again');
  assert.deepEqual(again, first, 'with the same entries');
  assert.equal(state.scopeIs(scopes[0]!, first), true, 'and the dropped view is still recognised as current by content');
  state.stage(owner, [[`${scopes[0]}@w`, Uint8Array.of(2)]]);
  assert.equal(state.scopeIs(scopes[0]!, first), false);
});
