import type { Logger } from 'pino';
import type { SinkSpec, Topology } from '../../topology/types.js';
import { Batcher } from './batcher.js';
import { partitionTopics } from '../../codec/partitioning.js';
import type { EntryWriter, OutRecord, RecordCodec } from '../pipeline/pipeline-io.js';
import type { PipelineStats } from '../coordinator/pipeline-stats.js';
import { endSpan, type Instrumentation } from '../pipeline/instrumentation.js';
import { faultPoint } from '../../util/fault-points.js';
import { appendAll } from '../../util/append.js';

/**
 * What a sink writes: a record to encode, or entries a worker packed already
 * (with, when instrumented, the records' timestamps and the first one's headers).
 */
export type SinkItem = OutRecord | { entries: string[]; records: number; timestamps?: number[]; headers?: Record<string, string> };

export interface OutputWritersOptions {
  topology: Topology; codec: RecordCodec; writer: EntryWriter; stats: PipelineStats; logger?: Logger;
  instrumentation?: Instrumentation;
  /** A sink write settled (its records no longer count in `sinkBacklog`). Must not throw. */
  onWritten?(): void;
}

/**
 * The coordinator's writers: one batcher per sink (records encoded here or
 * entries packed by workers, written in order, one write at a time) and one
 * per dead-letter topic, created on first use.
 */
export class OutputWriters {
  /** Per sink, one batcher per partition topic (one for an unpartitioned sink). */
  readonly #sinks = new Map<string, Array<Batcher<SinkItem>>>();
  readonly #deadLetters = new Map<string, Batcher<string>>();
  readonly #o: OutputWritersOptions;

  constructor(options: OutputWritersOptions) {
    this.#o = options;
    for (const sink of Object.values(options.topology.sinks)) {
      this.#sinks.set(sink.name, partitionTopics(sink.topic, sink.partitions).map((topic) => this.#sinkBatcher(sink, topic)));
    }
  }

  /** The writer of one sink's partition (workers pack per partition, docs/scaling.md). */
  sink(name: string, partition = 0): Batcher<SinkItem> {
    return this.#sinks.get(name)![partition]!;
  }

  deadLetter(topic: string): Batcher<string> {
    let batcher = this.#deadLetters.get(topic);
    if (!batcher) {
      batcher = new Batcher<string>({
        flush: async (entries) => {
          const span = this.#o.instrumentation?.produceSpan(topic, topic, entries.length, undefined, true);
          try {
            await this.#o.writer.putMany(topic, entries);
          } catch (error) {
            if (span) endSpan(span, error);
            this.#o.instrumentation?.error('dead-letter', error);
            throw error;
          }
          if (span) endSpan(span);
          this.#o.stats.deadLetter(topic, entries.length);
        },
        onError: (error, attempt) => this.#o.logger?.warn({ err: error, topic, attempt }, 'dead-letter write failed'),
      });
      this.#deadLetters.set(topic, batcher);
    }
    return batcher;
  }

  /** Sink records accepted and not yet acknowledged by the node, over every sink (the coordinator's backpressure). */
  sinkBacklog(): number {
    let n = 0;
    for (const batchers of this.#sinks.values()) for (const b of batchers) n += b.pendingWeight;
    return n;
  }

  /** Writes everything pending, sinks and dead letters. */
  async flushAll(): Promise<void> {
    await Promise.all(this.#all().map((b) => b.flush()));
  }

  /** Stops every sink and dead-letter write at once (a failed run): see Batcher.abandon. */
  abandonAll(error: Error): void {
    for (const b of this.#all()) b.abandon(error);
  }

  #all(): Array<Batcher<SinkItem> | Batcher<string>> {
    return [...[...this.#sinks.values()].flat(), ...this.#deadLetters.values()];
  }

  #sinkBatcher(sink: SinkSpec, topic: string): Batcher<SinkItem> {
    const counts = this.#o.stats.sink(sink.name, sink.topic);
    return new Batcher<SinkItem>({
      maxItems: sink.batch.maxRecords,
      lingerMs: sink.batch.linger,
      weight: (item) => ('entries' in item ? item.records : 1),
      flush: async (items) => {
        // In order: runs of single records are encoded here, packed units
        // (entries a worker encoded) go as they are.
        const entries: string[] = [];
        let run: OutRecord[] = [];
        let records = 0;
        const instr = this.#o.instrumentation;
        const timestamps: number[] = [];
        for (const item of items) {
          if ('entries' in item) {
            if (run.length > 0) { appendAll(entries, this.#o.codec.encode(sink, run)); run = []; }
            appendAll(entries, item.entries);
            records += item.records;
            if (instr && item.timestamps) appendAll(timestamps, item.timestamps);
          } else {
            run.push(item);
            records += 1;
            if (instr) timestamps.push(item.timestamp);
          }
        }
        if (run.length > 0) appendAll(entries, this.#o.codec.encode(sink, run));
        const first = items[0];
        const span = instr?.produceSpan(sink.name, topic, records, first && ('entries' in first ? first.headers : first.headers));
        try {
          await this.#o.writer.putMany(topic, entries);
        } catch (error) {
          if (span) endSpan(span, error);
          instr?.error('sink', error);
          throw error;
        }
        faultPoint('sink.acked');
        if (span) endSpan(span);
        instr?.emitted(sink.name, records, entries, timestamps);
        counts.records += records;
        counts.entries += entries.length;
      },
      onError: (error, attempt) => this.#o.logger?.warn({ err: error, sink: sink.name, attempt }, 'sink write failed'),
      afterWrite: this.#o.onWritten,
    });
  }
}
