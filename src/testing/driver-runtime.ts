/**
 * Builds the real Coordinator around in-memory topics, the real codec, the
 * in-process runner and (for stateful topologies) the real state stores: the
 * one place besides in-process-runner.ts that knows how the runtime is put
 * together (src/runtime/pipeline/pipeline.ts does the same for `run`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isEnvelope } from '../codec/index.js';
import { Coordinator, wireSpec } from '../runtime/coordinator/coordinator.js';
import type { PipelineSummary } from '../runtime/coordinator/pipeline-stats.js';
import type { JournalLike, RecordCodec } from '../runtime/pipeline/pipeline-io.js';
import { TopologyCodec } from '../runtime/pipeline/record-codec.js';
import { RuntimeState } from '../runtime/state/runtime-state.js';
import type { PartitionedStore } from '../state/store/partitioned-store.js';
import type { LogLevel, Topology } from '../topology/types.js';
import { InProcessRunner } from './in-process-runner.js';
import { MemoryTopics } from './memory-topics.js';
import type { VirtualClock } from './virtual-clock.js';

export interface DriverRuntimeOptions {
  clock: VirtualClock;
  random: () => number;
  /** Keep a real journal in this directory (at-least-once across a "crash" of the driver). @default none */
  journalDir?: string;
  /** Where state stores live. @default a fresh temporary directory, removed on close */
  stateDir?: string;
  logger?: Logger;
  /** Overrides the topology's `observability.logLevel` (what processors log to stderr). */
  logLevel?: LogLevel;
}

/** A running pipeline on in-memory topics. */
export interface DriverRuntime {
  readonly topology: Topology;
  readonly coordinator: Coordinator;
  readonly runner: InProcessRunner;
  readonly topics: MemoryTopics;
  readonly stores: ReadonlyMap<string, PartitionedStore>;
  /** Journal appends not finished yet (entries fetched but not yet admitted). */
  readonly appending: () => number;
  /** Settles when the coordinator stops; rejects on a fatal error. */
  readonly done: Promise<PipelineSummary>;
  close(): Promise<void>;
}

export async function startDriverRuntime(original: Topology, options: DriverRuntimeOptions): Promise<DriverRuntime> {
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => { for (const fn of cleanups.reverse()) await fn().catch(() => undefined); };
  try {
    let stateDir = options.stateDir;
    if (stateDir === undefined) {
      const dir = await mkdtemp(join(tmpdir(), 'walrus-stream-test-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      stateDir = dir;
    }
    const topology = forTests(original, stateDir, options.logLevel);
    const { clock } = options;
    const runner = new InProcessRunner({ clock, timeoutGraceMs: topology.workerPool.timeoutGrace });
    cleanups.push(() => runner.close());
    for (const name of Object.keys(topology.processors)) await runner.load(wireSpec(topology, name));

    const topics = new MemoryTopics();
    let journal: JournalLike | undefined;
    let appending = 0;
    if (options.journalDir !== undefined) {
      // Imported only when asked for: most tests need no journal, and start-up time is module count.
      const { Journal } = await import('../journal/index.js');
      const opened = await Journal.open({ dir: options.journalDir, fsync: topology.journal.fsync });
      cleanups.push(() => opened.close());
      // Counted so the driver knows fetched entries are still on their way in (admission follows the append).
      journal = {
        append: (items) => { appending += 1; return opened.append(items).finally(() => { appending -= 1; }); },
        release: (seqs) => opened.release(seqs),
        unreleased: () => opened.unreleased(),
      };
    }
    const state = await RuntimeState.open(topology, {
      register: async () => undefined,
      putMany: (topic, entries) => topics.putMany(topic, entries),
      // A fresh store restores from its changelog: the test's changelog topics start empty.
      getMany: async () => [],
    }, options.logger);
    if (state) { cleanups.push(() => state.close()); state.recover(journal, new TopologyCodec()); }

    const coordinator = new Coordinator({
      topology, runner, codec: virtualTimeCodec(new TopologyCodec(), clock.now), writer: topics,
      journal: state && journal ? state.wrapJournal(journal) : journal, state,
      openSource: (spec) => topics.source(spec.name),
      logger: options.logger, now: clock.now, random: options.random, setTimer: clock.setTimer,
    });
    const done = coordinator.run();
    // Surfaced by the driver's next call; never an unhandled rejection.
    done.catch(() => undefined);
    let closed = false;
    return {
      topology, coordinator, runner, topics, stores: state?.stores ?? new Map(), done, appending: () => appending,
      async close() {
        if (closed) return;
        closed = true;
        coordinator.stop();
        topics.close();
        await done.catch(() => undefined);
        await cleanup();
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * The topology as the driver runs it: same semantics, test-friendly
 * mechanics — state under `stateDir`, store commits without fsync (nothing
 * here must survive a power cut), sink batches written at once instead of
 * after a linger, idle sources polled without backoff, no rate limit.
 */
function forTests(topology: Topology, stateDir: string, logLevel: LogLevel | undefined): Topology {
  const copy = structuredClone(topology);
  copy.stateDir = stateDir;
  if (logLevel !== undefined) copy.observability.logLevel = logLevel;
  for (const store of Object.values(copy.stores)) store.fsync = 'never';
  for (const sink of Object.values(copy.sinks)) sink.batch.linger = 0;
  // A rate limit paces fetches in real time: throughput, not semantics.
  for (const source of Object.values(copy.sources)) { source.poll = { ...source.poll, minInterval: 0, maxInterval: 1 }; source.rateLimit = 0; }
  return copy;
}

/** Plain-text entries carry no timestamp: they get the driver clock's time instead of the real one. */
function virtualTimeCodec(codec: RecordCodec, now: () => number): RecordCodec {
  return {
    decode(source, entry) {
      const records = codec.decode(source, entry);
      if (!isEnvelope(entry)) for (const r of records) r.timestamp = now();
      return records;
    },
    serialize: (sink, value) => codec.serialize(sink, value),
    encode: (sink, records) => codec.encode(sink, records),
    assertFits: (sink, record) => codec.assertFits?.(sink, record),
  };
}
