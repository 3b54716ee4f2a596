import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopologyText } from '../../src/topology/index.js';
import { MAX_GROUP_DEPTH, planStageGroups, type StageGroup } from '../../src/topology/stage-groups.js';
import { StageRunner } from '../../src/runtime/coordinator/stage-runner.js';
import type { GroupSpecWire, MemberWire } from '../../src/runtime/wire/messages.js';
import { fixture, harness } from '../runtime/harness.js';

/**
 * `walrus-stream run` on a chain of thousands of processors. A chain of 7,000
 * trivial processors never finished `run --until-idle`: they all fused into
 * one stage group, and a record carries its path through a group (two numbers
 * per hop, copied at each hop), so its chain cost the square of its depth in
 * the worker — 7,000 deep ran the worker out of heap on the first batch, and
 * the replaced worker did the same, for ever. Start-up was quadratic too (the
 * coordinator walked the whole rest of the chain from every member).
 */

const FILE = join(fileURLToPath(new URL('../fixtures/processors/', import.meta.url)), 'topology.yaml');

function chain(n: number, extra: (i: number) => string = () => ''): string {
  const lines = Array.from({ length: n }, (_, i) => ` p${i}: {module: ${fixture('echo.js')}, input: ${i === 0 ? 's' : `p${i - 1}`}${extra(i)}}`);
  return `app: chain\nsources: {s: {topic: in}}\nprocessors:\n${lines.join('\n')}\nsinks: {out: {topic: out, input: p${n - 1}}}\n`;
}

test(`a chain of 1,000 processors is cut into stage groups at most ${MAX_GROUP_DEPTH} deep (it was one group 1,000 deep: a record's path grew with each hop and a 7,000 chain ran its worker out of heap)`, async () => {
  const { topology } = await loadTopologyText(chain(1_000), FILE, { env: {} });
  const groups = planStageGroups(topology);
  assert.equal(groups.length, Math.ceil(1_000 / MAX_GROUP_DEPTH), groups.map((g) => `${g.head}: ${g.members.length}`).join(', '));
  for (const g of groups) assert.ok(g.members.length <= MAX_GROUP_DEPTH, `${g.name}: ${g.members.length} members`);
  assert.deepEqual(groups.map((g) => g.reason), ['reads a source', ...Array(groups.length - 1).fill('group depth limit')]);
  assert.equal(groups[1]!.head, `p${MAX_GROUP_DEPTH}`);
  // Every processor in exactly one group, each group in chain order.
  assert.deepEqual(groups.flatMap((g) => g.members), Array.from({ length: 1_000 }, (_, i) => `p${i}`));
});

test('after a cut the group holds the keys records arrive with: a keyed processor below a re-key joins it, in key ordering', async () => {
  // p0 re-keys; p1.. are unordered; p200 is keyed: it needs the coordinator's key ordering again.
  const { topology } = await loadTopologyText(chain(300, (i) => (i === 0 ? ', rekey: true' : i === 200 ? ', ordering: key' : '')), FILE, { env: {} });
  const byHead = new Map(planStageGroups(topology).map((g) => [g.head, g]));
  assert.equal(byHead.get(`p${MAX_GROUP_DEPTH}`)?.reason, 'group depth limit');
  // After the cut the group holds the records' new keys; p200 joins it (the re-key was before its head).
  const withKeyed = [...byHead.values()].find((g) => g.members.includes('p200'))!;
  assert.equal(withKeyed.ordering, 'key');
  assert.equal(withKeyed.head, `p${MAX_GROUP_DEPTH}`);
});

test('the coordinator does not walk a stateless group from every member: no route is read at start (a chain of n read n²/2 of them)', () => {
  const n = 3_000;
  let reads = 0;
  const members = Array.from({ length: n }, (_, i): MemberWire => {
    const routes = { default: { members: i + 1 < n ? [i + 1] : [], exits: [], sinks: [] } };
    return {
      name: `p${i}`, module: 'echo.js', config: {}, outputs: ['default'], timeoutMs: 1_000, maxOutputs: 100, logLevel: 'info', app: 'a', redactHeaders: [], keyed: false,
      get routes() { reads += 1; return routes; },
    } as MemberWire;
  });
  const wire: GroupSpecWire = { name: 'p0', members, timeoutMs: 0 };
  const group: StageGroup = { name: 'p0', head: 'p0', members: members.map((m) => m.name), ordering: 'unordered', reason: 'reads a source' };
  const unused = () => assert.fail('not called at construction');
  const started = performance.now();
  const runner = new StageRunner({
    group, wire, specs: [], runner: { process: unused }, hooks: Array<undefined>(n).fill(undefined),
    onResult: unused, continuation: unused, onDeadLetter: unused, onSettled: unused,
  });
  const elapsed = performance.now() - started;
  assert.equal(runner.name, 'p0');
  // Old code: every member's walk read the routes of each member after it, 4.5 million reads, ~1 s here.
  assert.equal(reads, 0, `${reads} route reads`);
  assert.ok(elapsed < 500, `${Math.round(elapsed)} ms`);
});

test('records run through a chain of 300 processors (three groups), in order, to the sink', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('in', Array.from({ length: 20 }, (_, i) => ({ value: { i }, key: `k${i % 3}` })));
  const summary = await h.run(chain(300), { workers: 1 });
  assert.equal(summary.processors.p299!.processed, 20);
  const out = await h.drain('out');
  assert.deepEqual(out.map((r) => (r.value as { i: number }).i).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
  for (const k of ['k0', 'k1', 'k2']) {
    const seen = out.filter((r) => r.key === k).map((r) => (r.value as { i: number }).i);
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b), `key ${k} out of order`);
  }
});
