import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diagnosticsOf, loadTopologyText } from '../../src/topology/index.js';
import { GRAPH_FORMATS, renderGraph } from '../../src/topology/render-graph.js';
import { MAX_GROUP_DEPTH, planStageGroups } from '../../src/topology/stage-groups.js';

/**
 * Topologies at the edges of size and shape: each loads (or is refused with
 * a diagnostic) quickly, without a crash.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const FILE = join(root, 'test/fixtures/processors/shapes.yaml');

/** A chain of `n` processors, in flow style so that 6,000 of them fit under the 256 KiB file limit. */
function chain(n: number, bottomUp = false): string {
  const lines = Array.from({ length: n }, (_, i) => ` p${i}: {module: ./echo.js, input: ${i === 0 ? 's' : `p${i - 1}`}}`);
  if (bottomUp) lines.reverse();
  return `app: chain\nsources: {s: {topic: in}}\nprocessors:\n${lines.join('\n')}\nsinks: {out: {topic: out, input: p${n - 1}}}\n`;
}

/**
 * One load of `text`, then every graph format of it: the CPU each took in ms (this process's CPU, not wall
 * time: other processes on a loaded machine do not count, a wall-time ratio went from ~5× to 10.9× in a CI
 * run), and the topology.
 */
async function loadAndRender(text: string) {
  const cpuMs = (since?: NodeJS.CpuUsage) => { const u = process.cpuUsage(since); return (u.user + u.system) / 1000; };
  const started = process.cpuUsage();
  const { topology } = await loadTopologyText(text, FILE, { env: {} });
  const loadMs = cpuMs(started);
  const drawing = process.cpuUsage();
  for (const format of GRAPH_FORMATS) assert.match(renderGraph(topology, format), /p\d+\b/);
  return { topology, loadMs, graphMs: cpuMs(drawing) };
}

for (const bottomUp of [false, true]) {
  test(`a chain of 6,000 processors${bottomUp ? ' written bottom-up' : ''} (a 250 KB file, under the size limit) validates, plans its stage groups (cut every MAX_GROUP_DEPTH steps) and renders every graph format — it ended validate with "Maximum call stack size exceeded" (exit 3)`, { timeout: 60_000 }, async () => {
    const text = chain(6_000, bottomUp);
    assert.ok(text.length < 256 * 1024, `${text.length} bytes`);
    const { topology } = await loadAndRender(text);
    assert.equal(Object.keys(topology.processors).length, 6_000);
    assert.equal(topology.processors.p5999!.deadLetter, 'in.dlq');
    const groups = planStageGroups(topology);
    assert.equal(groups.length, Math.ceil(6_000 / MAX_GROUP_DEPTH));
    assert.equal(groups.reduce((n, g) => n + g.members.length, 0), 6_000);
    assert.ok(groups.some((g) => g.members.at(-1) === 'p5999'));
    for (const format of GRAPH_FORMATS) assert.match(renderGraph(topology, format), /p5999/);
  });
}

// Loading and drawing a chain grow linearly with its length: building the graph was quadratic (stage-group
// depths), 5.4 s for 6,000 processors. Compared within this test in CPU time, 4× the processors against 1×,
// interleaved and best of three each: here ~5× (n log n and a bigger heap), where quadratic is ~16×. (An
// absolute bound, "under 5 s", failed at 6.0 s on a loaded CI host; a wall-time ratio at 10.9×.)
test('loading and drawing a chain of processors take time near linear in its length (4× the processors: under 10× the time)', { timeout: 90_000 }, async () => {
  const small = chain(1_500);
  const large = chain(6_000);
  await loadAndRender(small);
  const runs: { small: { loadMs: number; graphMs: number }[]; large: { loadMs: number; graphMs: number }[] } = { small: [], large: [] };
  for (let i = 0; i < 3; i++) {
    runs.small.push(await loadAndRender(small));
    runs.large.push(await loadAndRender(large));
  }
  const best = (side: 'small' | 'large', what: 'loadMs' | 'graphMs') => Math.min(...runs[side].map((r) => r[what]));
  for (const [what, name] of [['loadMs', 'loading'], ['graphMs', 'drawing']] as const) {
    const ratio = best('large', what) / best('small', what);
    assert.ok(ratio < 10, `${name} 6,000 processors took ${ratio.toFixed(1)}× the time of 1,500 (${Math.round(best('large', what))} against ${Math.round(best('small', what))} ms)`);
  }
});

/** Every diagnostic of a topology, as `line:col severity message`. */
async function diagnostics(body: string): Promise<string[]> {
  const text = `app: shapes\nsources:\n  src: { topic: in }\n${body}`;
  const result = await loadTopologyText(text, FILE, { env: {} }).then(
    ({ warnings }) => warnings,
    (error: unknown) => diagnosticsOf(error) ?? assert.fail(error as Error),
  );
  return result.map((d) => `${d.line}:${d.col} ${d.severity} ${d.message}`);
}

test('a default dead-letter topic that is the topic of a source feeding the processor is refused at the processor — it validated "ok", and in a run one failing record was read back from its own dead-letter topic and dead-lettered 3 times', async () => {
  const found = await diagnostics(`  again: { topic: in.dlq }
processors:
  p: { module: ./echo.js, input: [src, again] }
`);
  assert.deepEqual(found, [
    '6:3 error processors.p: its default dead-letter topic "in.dlq" is the topic of source "again", which feeds "p", so a record that fails would be dead-lettered into its own input and fail again for ever; set deadLetter to another topic (e.g. "in.dlq.dlq")',
  ]);
  // Through another processor too: q reads the dead letters and feeds p.
  const indirect = await diagnostics(`  again: { topic: in.dlq }
processors:
  q: { module: ./echo.js, input: again, deadLetter: q.failed }
  p: { module: ./echo.js, input: [src, q] }
`);
  assert.match(indirect.join('\n'), /^7:3 error processors\.p: its default dead-letter topic "in\.dlq" is the topic of source "again", which feeds "p"/);
  // A processor that handles another's dead letters is no loop: it has a dead-letter topic of its own.
  assert.deepEqual(await diagnostics(`  failed: { topic: in.dlq }
processors:
  p: { module: ./echo.js, input: src }
  handler: { module: ./echo.js, input: failed }
`), []);
});

test('an output listed twice is one error, and "leads nowhere" is warned once for it — it was warned at both places', async () => {
  assert.deepEqual(await diagnostics(`processors:
  p: { module: ./echo.js, input: src, outputs: [x, x] }
`), [
    '5:49 warning processors.p.outputs: output "x" leads nowhere — no processor or sink reads "p.x", so records emitted to it are dropped',
    '5:52 error processors.p.outputs: output "x" is listed twice',
  ]);
});

test('shapes that held: cycles, a processor reading itself, a sink of a missing output, loops through Walrus, odd and long names — each a specific diagnostic at its line and column', async () => {
  const cases: Array<[string, RegExp]> = [
    ['processors:\n  a: { module: ./echo.js, input: [src, b] }\n  b: { module: ./echo.js, input: a }\n', /^5:40 error processors\.a\.input: cycle a → b → a; records would loop forever/],
    ['processors:\n  a: { module: ./echo.js, input: [src, a] }\n', /^5:40 error processors\.a\.input: cycle a → a;/],
    ['processors:\n  a: { module: ./echo.js, input: src }\nsinks:\n  o: { topic: out, input: a.nope }\n', /^7:27 error sinks\.o\.input: processor "a" has no output "nope" \(its outputs: "a\.default"\)/],
    ['processors:\n  a: { module: ./echo.js, input: src, deadLetter: in }\n', /^5:51 error processors\.a\.deadLetter: "in" is the topic of source "src", so dead letters would be read and fail again/],
    ['processors:\n  a: { module: ./echo.js, input: src }\nsinks:\n  o: { topic: in, input: a }\n', /^7:15 warning sinks\.o\.topic: source "src" reads topic "in", so records written here are processed again/],
    ['processors:\n  "a.b": { module: ./echo.js, input: src }\n', /^5:3 error processors: invalid processor name "a\.b": use letters, digits, _ and -/],
    ['processors:\n  "ünï code": { module: ./echo.js, input: src }\n', /^5:3 error processors: invalid processor name "ünï code"/],
    [`processors:\n  p${'x'.repeat(1_000)}: { module: ./echo.js, input: src, deadLetter: ${'d'.repeat(1_000)} }\n`, /error processors\.px+\.deadLetter: invalid topic name: topic is 1000 characters long, the limit is 249/],
  ];
  for (const [body, expected] of cases) assert.match((await diagnostics(body)).join('\n'), expected, body.slice(0, 200));
});
