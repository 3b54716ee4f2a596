/**
 * One case of bench:pipeline, run in a process of its own (so peak RSS and
 * CPU are the case's alone), against a node the parent started and loaded:
 *   node benchmarks/lib/pipeline-case.mjs '<json CaseSpec>'
 * It runs what users run: the built package (dist/), in a plain `node`
 * process (no TypeScript loader in any thread), as `walrus-stream run` does.
 * BENCH_FROM_SOURCE=1 runs the sources instead (the parent then adds
 * `--import tsx`). Prints one JSON line: elapsed time, the time the first
 * half of the records took, CPU of the coordinator thread and of the whole
 * process (its other threads are the workers: the node runs in the parent),
 * peak RSS.
 *
 * CaseSpec: { yaml: string | 'example', address, stateDir, expectSunk, records, workers }
 * (`yaml`: topology text, relative modules resolving against benchmarks/, or
 * `example` for the repo's topology.yaml).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const fromSource = process.env.BENCH_FROM_SOURCE !== undefined;
// The package entry, as a user imports it (dist/ is a bundle: its entries are what exists).
const { startPipeline, loadTopology, loadTopologyText } = await import(new URL(fromSource ? '../../src/index.ts' : '../../dist/esm/index.js', import.meta.url).href);

/** CPU time (ms) of the main (coordinator) thread alone, from /proc on Linux; NaN elsewhere. */
function mainThreadCpuMs() {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

const here = fileURLToPath(new URL('..', import.meta.url));
const spec = JSON.parse(process.argv[2]);
const { topology } = spec.yaml === 'example'
  ? await loadTopology(join(here, '..', process.env.BENCH_EXAMPLE_FILE ?? 'topology.yaml'), { env: { ...process.env, WALRUS_STATE_DIR: spec.stateDir } })
  : await loadTopologyText(spec.yaml.replaceAll('${STATE_DIR}', spec.stateDir), join(here, 'pipeline.yaml'));
const maxInFlight = process.env.BENCH_MAX_IN_FLIGHT === undefined ? undefined : Number(process.env.BENCH_MAX_IN_FLIGHT);
const pipeline = await startPipeline(topology, { nodes: [spec.address], untilIdle: true, workers: spec.workers, tracing: false, maxInFlight });
const cpu = process.cpuUsage();
const mainCpu = mainThreadCpuMs();
const started = performance.now();
let halfAt;
const sources = () => Object.values(pipeline.coordinator.snapshot().sources).reduce((a, s) => a + s.records, 0);
const done = () => sources() - pipeline.coordinator.snapshot().inFlight;
const sampler = setInterval(() => { if (halfAt === undefined && done() >= spec.records / 2) halfAt = performance.now(); }, 25);
// BENCH_MEMLOG=1: where the memory is, once a second on stderr (the main isolate's heap; RSS includes the workers').
const memlog = process.env.BENCH_MEMLOG ? setInterval(() => {
  const m = process.memoryUsage();
  const mib = (n) => (n / 1048576).toFixed(0);
  process.stderr.write(`mem rss ${mib(m.rss)} heapUsed ${mib(m.heapUsed)} heapTotal ${mib(m.heapTotal)} external ${mib(m.external)} arrayBuffers ${mib(m.arrayBuffers)} done ${done()}\n`);
}, 1000) : undefined;
const summary = await pipeline.done;
clearInterval(sampler);
clearInterval(memlog);
const elapsedMs = performance.now() - started;
const cpuUs = process.cpuUsage(cpu);
const mainMs = mainThreadCpuMs() - mainCpu;
const sunk = Object.values(summary.sinks).reduce((a, s) => a + s.records, 0);
if (sunk < spec.expectSunk) throw new Error(`expected at least ${spec.expectSunk} records in the sinks, got ${sunk}`);
process.stdout.write(`${JSON.stringify({
  elapsedMs, halfMs: halfAt === undefined ? elapsedMs / 2 : halfAt - started, sunk,
  mainCpuMs: mainMs, processCpuMs: (cpuUs.user + cpuUs.system) / 1000, peakRssMiB: process.resourceUsage().maxRSS / 1024,
})}\n`);
