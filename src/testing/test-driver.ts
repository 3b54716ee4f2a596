import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { WalrusError } from '../errors/index.js';
import type { PipelineSummary } from '../runtime/coordinator/pipeline-stats.js';
import type { LogLevel, SinkSpec, SourceSpec, Topology } from '../topology/types.js';
import type { DriverRuntime } from './driver-runtime.js';
import { deadLetterRecord, inputEntry, sinkRecords, type TestDeadLetter, type TestInputRecord, type TestOutputRecord } from './test-records.js';
import { VirtualClock } from './virtual-clock.js';
import { partitionTopics } from '../codec/partitioning.js';

/** Options of {@link createTestDriver}. */
export interface TestDriverOptions {
  /** Directory a topology path (and `${VAR}` defaults) resolve against. @default process.cwd() */
  cwd?: string;
  /** Variables for `${VAR}` interpolation in the topology. @default process.env */
  env?: Record<string, string | undefined>;
  /** Where the virtual clock starts (epoch ms or a Date). @default 2026-01-01T00:00:00.000Z */
  startTime?: number | Date;
  /**
   * While settling, move the virtual clock to the next timer whenever the
   * pipeline waits only on it: retry backoffs pass at once, and a processor
   * stuck past its timeout is timed out after `hangAfterMs` of real
   * quiet. Off: only `advanceTime` moves the clock.
   * @default true
   */
  autoAdvance?: boolean;
  /**
   * Real milliseconds without progress after which a record still in a
   * processor counts as hung (see `autoAdvance`): its timeout fires. Keep it
   * above the slowest real I/O a processor under test does. @default 500
   */
  hangAfterMs?: number;
  /** Real milliseconds `settle` waits at most before failing with TEST_STALLED. @default 10000 */
  settleTimeoutMs?: number;
  /** Random source of retry jitter. @default () => 0.5 (repeatable backoffs) */
  random?: () => number;
  /** What processors log to stderr. @default the topology's observability.logLevel */
  logLevel?: LogLevel;
  /** The coordinator's logger (dead letters, retries). @default none */
  logger?: Logger;
  /** Keep a real journal in this directory (to test restarts). @default none: nothing is written but state stores */
  journalDir?: string;
  /** Directory of the state stores. @default a fresh temporary directory, removed by `close()` */
  stateDir?: string;
}

/**
 * Real quiet after which, with `autoAdvance` off, records waiting only on the
 * clock are left for `advanceTime` (dead-letter writes linger 5 ms: longer).
 */
const MANUAL_QUIET_MS = 20;
const DEFAULT_START = Date.parse('2026-01-01T00:00:00.000Z');

/**
 * Creates a driver for a topology (a loaded `Topology` or the path of its
 * YAML file): the real coordinator, codec, state stores and processor code,
 * with in-memory topics and a virtual clock — no node, no sockets, no
 * threads. Close it when done.
 *
 * @example
 * const driver = await createTestDriver('topology.yaml');
 * await driver.pipe('orders', [{ value: '{"orderId":"o-1",...}' }]);
 * assert.equal(driver.output('accepted').length, 1);
 * await driver.close();
 */
export async function createTestDriver(topology: Topology | string, options: TestDriverOptions = {}): Promise<TestDriver> {
  // Imported here, not with the module: the package entry exports this
  // driver, and a processor importing the package should not load the
  // topology parser and the coordinator with it.
  const [{ loadTopology }, { startDriverRuntime }] = await Promise.all([import('../topology/load.js'), import('./driver-runtime.js')]);
  const loaded = typeof topology === 'string' ? (await loadTopology(topology, { cwd: options.cwd, env: options.env })).topology : topology;
  const start = options.startTime instanceof Date ? options.startTime.getTime() : options.startTime ?? DEFAULT_START;
  const clock = new VirtualClock(start);
  const runtime = await startDriverRuntime(loaded, {
    clock, random: options.random ?? (() => 0.5), journalDir: options.journalDir, stateDir: options.stateDir,
    logger: options.logger, logLevel: options.logLevel,
  });
  return new TestDriver(runtime, clock, options);
}

/** A topology under test (see {@link createTestDriver}). */
export class TestDriver {
  readonly #rt: DriverRuntime;
  readonly #clock: VirtualClock;
  readonly #o: TestDriverOptions;
  readonly #read = new Map<string, number>();
  #fatal: unknown;
  #closed = false;

  /** @internal use {@link createTestDriver} */
  constructor(runtime: DriverRuntime, clock: VirtualClock, options: TestDriverOptions) {
    this.#rt = runtime;
    this.#clock = clock;
    this.#o = options;
    runtime.done.catch((error: unknown) => { this.#fatal = error; });
  }

  /** The topology as the driver runs it. */
  get topology(): Topology {
    return this.#rt.topology;
  }

  /** The virtual clock's time (epoch ms). */
  now(): number {
    return this.#clock.now();
  }

  /** Pipes records into a source and waits until the pipeline has finished with them (see {@link settle}). */
  async pipe(source: string, records: TestInputRecord | readonly TestInputRecord[]): Promise<void> {
    const spec = this.#source(source);
    const list = Array.isArray(records) ? records : [records as TestInputRecord];
    this.#rt.topics.source(spec.name).push(list.map((r) => inputEntry(spec, r, this.#clock.now())));
    await this.settle();
  }

  /** Pipes raw Walrus entries (e.g. a corrupt envelope, a line from another client) into a source and settles. */
  async pipeEntries(source: string, entries: readonly string[]): Promise<void> {
    this.#rt.topics.source(this.#source(source).name).push(entries);
    await this.settle();
  }

  /**
   * Moves the virtual clock forward by `ms`, firing what falls due on the
   * way (retry backoffs, processor timeouts), then settles.
   */
  async advanceTime(ms: number): Promise<void> {
    this.#clock.advance(ms);
    await this.settle();
  }

  /**
   * Waits until nothing is left to do: every piped entry fetched, every
   * record processed, retried, written to its sinks or dead-lettered, and
   * its state committed. With `autoAdvance`, the virtual clock jumps over
   * the waits (retry backoffs) on the way; without, it returns once what is
   * left waits only on the clock.
   */
  async settle(): Promise<void> {
    const started = performance.now();
    const limit = this.#o.settleTimeoutMs ?? 10_000;
    const hangAfter = this.#o.hangAfterMs ?? 500;
    const auto = this.#o.autoAdvance ?? true;
    let idleTurns = 0;
    let signature = '';
    let quietSince = performance.now();
    for (;;) {
      this.#throwIfFailed();
      // Right after a change, the next step is usually a few microtask hops away; past that, what is left
      // waits on a timer (a sink's linger, a processor's own I/O): sleep instead of spinning the CPU.
      if (performance.now() - quietSince < 2) await nextTurn();
      else await sleep(1);
      const rt = this.#rt;
      const inFlight = rt.coordinator.snapshot().inFlight;
      const now = performance.now();
      const current = `${rt.runner.finished}:${inFlight}:${rt.topics.written.length}:${rt.topics.unfetched}:${this.#clock.pending}`;
      if (current !== signature) { signature = current; quietSince = now; }
      const busy = rt.topics.unfetched > 0 || rt.appending() > 0 || inFlight > 0 || rt.runner.active > 0;
      if (!busy) {
        // A few turns in a row: admission of a fetched batch and ticket completion are a few microtask hops apart.
        if (++idleTurns >= 3) { this.#throwIfFailed(); return; }
        continue;
      }
      idleTurns = 0;
      if (now - started > limit) throw this.#stalled(limit, inFlight);
      if (this.#clock.pending === 0) continue;
      if (!auto) {
        // Only the clock can move what is left (a retry waiting out its backoff): the test advances it.
        if (rt.runner.active === 0 && rt.topics.unfetched === 0 && rt.appending() === 0 && now - quietSince >= MANUAL_QUIET_MS) return;
        continue;
      }
      // Nothing runs: what is left waits on the clock (a retry backoff). Something runs but nothing
      // moved for a while: it waits on the clock too, or is stuck (its timeout is due next).
      if (rt.runner.active === 0 || now - quietSince >= hangAfter) {
        this.#clock.runNext();
        quietSince = now;
      }
    }
  }

  /** Every record sink `sink` received so far, in order (of a partitioned sink: all partitions, in write order). */
  output(sink: string): TestOutputRecord[] {
    const spec = this.#sink(sink);
    const topics = new Set(partitionTopics(spec.topic, spec.partitions));
    return sinkRecords(spec, this.#rt.topics.written.filter((w) => topics.has(w.topic)).map((w) => w.entry));
  }

  /** The records sink `sink` received since the last `readOutput(sink)` (Kafka Streams' output topic reads). */
  readOutput(sink: string): TestOutputRecord[] {
    const all = this.output(sink);
    const from = this.#read.get(sink) ?? 0;
    this.#read.set(sink, all.length);
    return all.slice(from);
  }

  /** Every dead letter written so far (all dead-letter topics), in the order they were written. */
  deadLetters(): TestDeadLetter[] {
    const topics = new Set(Object.values(this.#rt.topology.processors).map((p) => p.deadLetter));
    return this.#rt.topics.written
      .filter((w) => topics.has(w.topic) || w.entry.startsWith('{"walrusDeadLetter"'))
      .map((w) => deadLetterRecord(this.#rt.topology, w.topic, w.entry));
  }

  /** A state store's entries (committed and staged), sorted by key, values decoded. */
  store(name: string): Array<{ key: string; value: unknown }> {
    return this.#store(name).range<unknown>().map(({ key, value }) => ({ key, value }));
  }

  /** One entry of a state store (undefined when absent). */
  storeGet<T = unknown>(name: string, key: string): T | undefined {
    return this.#store(name).get<T>(key);
  }

  /** The raw entries written to any topic (sinks, dead letters, changelogs), in order. */
  topicEntries(topic: string): string[] {
    return this.#rt.topics.entries(topic);
  }

  /** The coordinator's counters (processed, retries, dead letters per processor...). */
  stats(): PipelineSummary {
    return this.#rt.coordinator.snapshot();
  }

  /** Stops the pipeline, runs processors' `close` hooks, closes the stores and removes the temporary state. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#rt.close();
  }

  #throwIfFailed(): void {
    if (this.#closed) throw new WalrusError('INVALID_ARGUMENT', 'the test driver is closed');
    if (this.#fatal !== undefined) throw this.#fatal;
  }

  #stalled(limit: number, inFlight: number): WalrusError {
    const rt = this.#rt;
    return new WalrusError('TEST_STALLED',
      `the pipeline did not settle within ${limit} ms of real time: ${inFlight} record(s) in flight, ${rt.runner.active} batch(es) in a processor, ` +
      `${rt.topics.unfetched} entr(ies) not fetched, ${this.#clock.pending} timer(s) pending on the virtual clock` +
      (this.#o.autoAdvance === false ? ' (autoAdvance is off: advanceTime() fires retries and timeouts)' : ''),
      { context: { inFlight, active: rt.runner.active, timers: this.#clock.pending } });
  }

  #source(name: string): SourceSpec {
    const spec = Object.hasOwn(this.#rt.topology.sources, name) ? this.#rt.topology.sources[name] : undefined;
    if (!spec) throw unknown('source', name, Object.keys(this.#rt.topology.sources));
    return spec;
  }

  #sink(name: string): SinkSpec {
    const spec = Object.hasOwn(this.#rt.topology.sinks, name) ? this.#rt.topology.sinks[name] : undefined;
    if (!spec) throw unknown('sink', name, Object.keys(this.#rt.topology.sinks));
    return spec;
  }

  #store(name: string) {
    const store = this.#rt.stores.get(name);
    if (!store) throw unknown('state store', name, [...this.#rt.stores.keys()], ' (only stores a processor uses are opened)');
    return store;
  }
}

function unknown(what: string, name: string, known: string[], note = ''): WalrusError {
  return new WalrusError('INVALID_ARGUMENT', `unknown ${what} "${name}"; the topology has: ${known.join(', ') || '(none)'}${note}`);
}
