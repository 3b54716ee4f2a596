import type { Logger } from 'pino';
import type { SinkSpec, Topology } from '../topology/types.js';
import { Batcher } from './batcher.js';
import type { EntryWriter, OutRecord, RecordCodec } from './pipeline-io.js';
import type { PipelineStats } from './pipeline-stats.js';

/** What a sink writes: a record to encode, or entries a worker packed already. */
export type SinkItem = OutRecord | { entries: string[]; records: number };

/**
 * The coordinator's writers: one batcher per sink (records encoded here or
 * entries packed by workers, written in order, one write at a time) and one
 * per dead-letter topic, created on first use.
 */
export class OutputWriters {
  readonly #sinks = new Map<string, Batcher<SinkItem>>();
  readonly #deadLetters = new Map<string, Batcher<string>>();
  readonly #o: { topology: Topology; codec: RecordCodec; writer: EntryWriter; stats: PipelineStats; logger?: Logger };

  constructor(options: { topology: Topology; codec: RecordCodec; writer: EntryWriter; stats: PipelineStats; logger?: Logger }) {
    this.#o = options;
    for (const sink of Object.values(options.topology.sinks)) this.#sinks.set(sink.name, this.#sinkBatcher(sink));
  }

  sink(name: string): Batcher<SinkItem> {
    return this.#sinks.get(name)!;
  }

  deadLetter(topic: string): Batcher<string> {
    let batcher = this.#deadLetters.get(topic);
    if (!batcher) {
      batcher = new Batcher<string>({
        flush: async (entries) => {
          await this.#o.writer.putMany(topic, entries);
          this.#o.stats.deadLetter(topic, entries.length);
        },
        onError: (error, attempt) => this.#o.logger?.warn({ err: error, topic, attempt }, 'dead-letter write failed'),
      });
      this.#deadLetters.set(topic, batcher);
    }
    return batcher;
  }

  /** Writes everything pending, sinks and dead letters. */
  async flushAll(): Promise<void> {
    await Promise.all([...this.#sinks.values(), ...this.#deadLetters.values()].map((b) => b.flush()));
  }

  #sinkBatcher(sink: SinkSpec): Batcher<SinkItem> {
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
        for (const item of items) {
          if ('entries' in item) {
            if (run.length > 0) { entries.push(...this.#o.codec.encode(sink, run)); run = []; }
            entries.push(...item.entries);
            records += item.records;
          } else {
            run.push(item);
            records += 1;
          }
        }
        if (run.length > 0) entries.push(...this.#o.codec.encode(sink, run));
        await this.#o.writer.putMany(sink.topic, entries);
        counts.records += records;
        counts.entries += entries.length;
      },
      onError: (error, attempt) => this.#o.logger?.warn({ err: error, sink: sink.name, attempt }, 'sink write failed'),
    });
  }
}
