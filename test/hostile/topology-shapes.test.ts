import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopologyText } from '../../src/topology/index.js';
import { GRAPH_FORMATS, renderGraph } from '../../src/topology/render-graph.js';
import { planStageGroups } from '../../src/topology/stage-groups.js';

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

for (const bottomUp of [false, true]) {
  test(`a chain of 6,000 processors${bottomUp ? ' written bottom-up' : ''} (a 250 KB file, under the size limit) validates, plans one stage group and renders every graph format in seconds — it ended validate with "Maximum call stack size exceeded" (exit 3)`, { timeout: 30_000 }, async () => {
    const text = chain(6_000, bottomUp);
    assert.ok(text.length < 256 * 1024, `${text.length} bytes`);
    const started = performance.now();
    const { topology } = await loadTopologyText(text, FILE, { env: {} });
    const loaded = performance.now() - started;
    assert.equal(Object.keys(topology.processors).length, 6_000);
    assert.equal(topology.processors.p5999!.deadLetter, 'in.dlq');
    const groups = planStageGroups(topology);
    assert.equal(groups.length, 1);
    assert.equal(groups[0]!.members.length, 6_000);
    assert.equal(groups[0]!.members[5_999], 'p5999');
    const graphStarted = performance.now();
    for (const format of GRAPH_FORMATS) assert.match(renderGraph(topology, format), /p5999/);
    const rendered = performance.now() - graphStarted;
    // Linear now: about 1 s to load and 0.3 s for the four graphs here; building the graph alone took 5.4 s (quadratic stage-group depths).
    assert.ok(loaded < 5_000, `load took ${Math.round(loaded)} ms`);
    assert.ok(rendered < 2_500, `the four graphs took ${Math.round(rendered)} ms`);
  });
}
