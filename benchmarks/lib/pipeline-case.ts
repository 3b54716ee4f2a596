/**
 * One case of bench:pipeline, run in a process of its own (so peak RSS and
 * CPU are the case's alone), against a node the parent started and loaded:
 *   node --import tsx benchmarks/lib/pipeline-case.ts '<json CaseSpec>'
 * Prints one JSON line: elapsed time, the time the first half of the
 * records took, CPU of the coordinator thread and of the whole process (its
 * other threads are the workers: the node runs in the parent), peak RSS.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { loadTopology, loadTopologyText } from '../../src/topology/index.js';
import { mainThreadCpuMs } from './cpu.js';

export interface CaseSpec {
  /** Topology YAML (relative modules resolve against benchmarks/), or `example` for the repo's topology.yaml. */
  yaml: string | 'example';
  address: string;
  stateDir: string;
  /** Records expected to reach the sinks in total (the case ends when idle; this checks it). */
  expectSunk: number;
  /** Records the source holds. */
  records: number;
  workers: number;
}

const here = fileURLToPath(new URL('..', import.meta.url));
const spec = JSON.parse(process.argv[2]!) as CaseSpec;
const { topology } = spec.yaml === 'example'
  ? await loadTopology(join(here, '..', 'topology.yaml'), { env: { ...process.env, WALRUS_STATE_DIR: spec.stateDir } })
  : await loadTopologyText(spec.yaml.replaceAll('${STATE_DIR}', spec.stateDir), join(here, 'pipeline.yaml'));
const pipeline = await startPipeline(topology, { nodes: [spec.address], untilIdle: true, workers: spec.workers, tracing: false });
const cpu = process.cpuUsage();
const mainCpu = mainThreadCpuMs();
const started = performance.now();
let halfAt: number | undefined;
const sources = () => Object.values(pipeline.coordinator.snapshot().sources).reduce((a, s) => a + s.records, 0);
const done = () => { const s = pipeline.coordinator.snapshot(); return sources() - s.inFlight; };
const sampler = setInterval(() => { if (halfAt === undefined && done() >= spec.records / 2) halfAt = performance.now(); }, 25);
const summary = await pipeline.done;
clearInterval(sampler);
const elapsedMs = performance.now() - started;
const cpuUs = process.cpuUsage(cpu);
const mainMs = mainThreadCpuMs() - mainCpu;
const sunk = Object.values(summary.sinks).reduce((a, s) => a + s.records, 0);
if (sunk < spec.expectSunk) throw new Error(`expected at least ${spec.expectSunk} records in the sinks, got ${sunk}`);
process.stdout.write(`${JSON.stringify({
  elapsedMs, halfMs: halfAt === undefined ? elapsedMs / 2 : halfAt - started, sunk,
  mainCpuMs: mainMs, processCpuMs: (cpuUs.user + cpuUs.system) / 1000, peakRssMiB: process.resourceUsage().maxRSS / 1024,
})}\n`);
