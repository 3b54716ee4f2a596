import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { WalrusError, serializeError } from '../../errors/index.js';
import type { SourceSpec, Topology } from '../../topology/types.js';
import { buildDeadLetter, omitsEntry } from '../coordinator/dead-letter.js';
import type { FetchedBatch, JournalLike, RecordCodec, SourceReader } from '../pipeline/pipeline-io.js';
import { LeaseAcks, type LeaseHold } from './lease-acks.js';
import { SourceDedupe } from './envelope-dedupe.js';
import { RedeliveryFilter } from './lease-redelivery.js';
import type { PipelineStats } from '../coordinator/pipeline-stats.js';
import type { Job } from '../coordinator/stage-runner.js';
import { decodeDeadLetterTopic, type Routes } from '../coordinator/routes.js';
import { Ticket } from '../coordinator/ticket.js';
import { backoffDelay } from '../../util/backoff.js';
import type { Instrumentation } from '../pipeline/instrumentation.js';
import { ORIGIN_HEADER, parseOrigin, type RepartitionOrigins } from './repartition-origin.js';
import { isRepartition, sourcesFeedingRepartitions } from '../../topology/repartition.js';
import { partitionOfKey } from '../../codec/partitioning.js';
import { MAX_TIMER_MS } from '../../topology/schema/schema-fields.js';

/** Waits between failed fetches of a source: 200 ms doubling to 5 s. */
const FETCH_RETRY = { initialDelayMs: 200, maxDelayMs: 5_000 } as const;

/**
 * Fetched batches per source that may wait for the journal at once. Each
 * waits for a group commit's fdatasync: under disk contention (tens of ms)
 * 4 in flight cost ~40% of throughput in `bench:recovery`, 16 nothing
 * measurable. Fewer are allowed as the in-flight bound nears (see `room`).
 */
const MAX_PENDING_APPENDS = 16;

export interface IngestOptions {
  topology: Topology;
  routes: Routes;
  stats: PipelineStats;
  codec: RecordCodec;
  journal?: JournalLike;
  openSource(spec: SourceSpec): SourceReader;
  submit(processor: string, job: Job): void;
  deadLetterEntry(topic: string, entry: string): Promise<void>;
  /** Flushes sinks and dead-letter writers (end of run). */
  flushOutputs(): Promise<void>;
  untilIdle?: boolean;
  maxInFlight?: number;
  /** Called once the journal's unreleased entries have been handed out, before the first fetch (stream-time ticks). */
  afterRecover?(): void;
  logger?: Logger;
  instrumentation?: Instrumentation;
  now?: () => number;
  /** Origins of repartition records (stamped on the way in, re-sent copies dropped on the way back). @default none */
  origins?: RepartitionOrigins;
}

/**
 * The fetch side of the coordinator: one loop per source (fetch → journal →
 * decode → dispatch), the in-flight bound (fetching pauses while full),
 * journal release once an entry's ticket finishes, recovery of what a crash
 * left in the journal, and the idle/stop conditions.
 */
export class Ingest {
  readonly #o: IngestOptions;
  readonly #maxInFlight: number;
  #inFlight = 0;
  /** Fetched batches waiting for their journal append before admission. */
  #admitting = 0;
  #stopping = false;
  #fatal: Error | undefined;
  /** The journal's first failure (a full disk): fetching stops, what was fetched finishes, then run() ends with it. */
  #journalFailure: Error | undefined;
  readonly #emptySources = new Set<string>();
  /**
   * Entries finished so far, and per repartition source the count when its
   * last empty poll started: finishing an entry can write to a repartition
   * topic this instance reads, so such a source counts as empty only if it
   * was found empty after the last entry finished.
   */
  #finished = 0;
  readonly #emptySince = new Map<string, number>();
  readonly #sleepers = new Set<() => void>();
  #toRelease: number[] = [];
  #releasing: Promise<void> = Promise.resolve();
  readonly #acks: LeaseAcks;
  readonly #dedupe: SourceDedupe;
  readonly #redelivered = new RedeliveryFilter();
  /** The fetch span of the batch being admitted (admission of one batch is synchronous). */
  #fetchSpan: Span | undefined;
  /** Sources whose records may be written to a repartition topic: they get an origin header. */
  readonly #stamped: Set<string>;

  constructor(options: IngestOptions) {
    this.#o = options;
    this.#stamped = options.origins?.writer === undefined ? new Set() : sourcesFeedingRepartitions(options.topology);
    this.#acks = new LeaseAcks(options.logger, () => this.#poke(), (source, entries) => this.#redelivered.addLost(source, entries));
    this.#dedupe = new SourceDedupe(options.stats);
    this.#maxInFlight = options.maxInFlight ?? 20_000;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  stop(): void {
    this.#stopping = true;
    this.#poke();
  }

  /** Ends `run()` with `error` without draining (see Coordinator.fail). */
  fail(error: Error): void {
    this.#fatal ??= error;
    this.stop();
  }

  async run(): Promise<void> {
    await this.#recover();
    this.#o.afterRecover?.();
    const sources = Object.values(this.#o.topology.sources).filter((s) => this.#o.routes.bySource.has(s.name));
    await Promise.all(sources.map((s) => this.#fetchLoop(s)));
    // Drain: everything admitted finishes (or is dead-lettered) and is flushed.
    while ((this.#inFlight > 0 || this.#admitting > 0) && !this.#fatal) await this.#sleep(20);
    if (this.#fatal) {
      await this.#flushReleases();
      await this.#acks.settle();
      throw this.#fatal;
    }
    await this.#o.flushOutputs();
    await this.#flushReleases();
    // Before the client closes: a closed connection would release the leases.
    await this.#acks.settle();
    if (this.#journalFailure) throw this.#journalFailure;
  }

  async #fetchLoop(spec: SourceSpec): Promise<void> {
    const reader = this.#o.openSource(spec);
    const counts = this.#o.stats.source(spec.name, spec.topic);
    let interval = spec.poll.minInterval;
    let failures = 0;
    let chain: Promise<number> = Promise.resolve(0);
    const outstanding = new Set<Promise<number>>();
    let lastRecords = 0;
    while (!this.#stopping) {
      if (this.#inFlight >= this.#maxInFlight) { await this.#sleep(spec.poll.maxInterval); continue; }
      // Leases held until their records finish (no journal): at the cap, wait for one to be acknowledged.
      if (this.#acks.full) { await this.#sleep(spec.poll.maxInterval); continue; }
      let batch: FetchedBatch;
      const started = Date.now();
      const finishedBefore = this.#finished;
      try {
        batch = await reader.fetch(spec.poll.batchSize, spec.poll.maxBytes);
        failures = 0;
      } catch (error) {
        failures += 1;
        this.#o.logger?.warn({ err: serializeError(error), source: spec.name, failures }, 'fetch failed; retrying');
        this.#o.instrumentation?.error('source', error);
        await this.#sleep(backoffDelay(FETCH_RETRY, failures));
        continue;
      }
      const { entries, dropped } = this.#redelivered.filter(spec.name, batch.entries, batch.topic);
      if (dropped > 0) {
        counts.duplicates = (counts.duplicates ?? 0) + dropped;
        if (entries.length === 0) {
          // Only redelivered copies: the journal has them, so the lease can be acknowledged now.
          this.#acks.redelivered(batch, spec.name);
          continue;
        }
      }
      if (entries.length === 0) {
        this.#emptySources.add(spec.name);
        if (isRepartition(spec)) this.#emptySince.set(spec.name, finishedBefore);
        if (this.#o.untilIdle && this.#isIdle()) { this.stop(); break; }
        await this.#sleep(interval);
        interval = Math.min(Math.max(interval * 2, 1), spec.poll.maxInterval);
        continue;
      }
      this.#emptySources.delete(spec.name);
      interval = spec.poll.minInterval;
      counts.entries += entries.length;
      const fetchSpan = this.#o.instrumentation?.fetchSpan(spec.name, spec.topic, entries.length, started);
      // Journal appends are pipelined: the next fetch goes out while this
      // batch is being made durable (and the journal's group commit folds
      // several appends into one fsync). Admission stays in fetch order, which
      // key ordering relies on, by chaining each batch behind the previous.
      const appended = this.#o.journal
        ? this.#o.journal.append(entries.map((entry) => ({ source: spec.name, entry })))
        // No journal, no seq (-1, as after a failed append): no state ids are recorded for records that no release will ever trim.
        : Promise.resolve(entries.map(() => -1));
      // A lease is acknowledged once the journal holds its entries; with no
      // journal (or a failed append) only once they are finished.
      if (this.#o.journal) this.#acks.afterAppend(batch, appended, spec.name);
      this.#admitting += 1;
      const step: Promise<number> = chain.then(() => appended).then(
        (seqs) => ({ seqs, hold: this.#o.journal ? undefined : this.#acks.afterRelease(batch, entries.length, spec.name) }),
        (error: unknown) => {
          this.#o.logger?.error({ err: serializeError(error), source: spec.name }, 'journal append failed; processing the entries with only the lease as crash protection, then stopping');
          this.#o.instrumentation?.error('journal', error);
          // Without a journal nothing fetched later would be protected (on a node without leases, not at all): stop fetching.
          if (!this.#journalFailure) { this.#journalFailure = error as Error; this.stop(); }
          return { seqs: entries.map(() => -1), hold: this.#acks.afterRelease(batch, entries.length, spec.name) };
        },
      ).then(async ({ seqs, hold }) => {
        let records = 0;
        for (let i = 0; i < entries.length; i++) {
          if (this.#inFlight >= this.#maxInFlight && !(await this.#room())) break;
          this.#fetchSpan = fetchSpan;
          records += this.#admit(spec, entries[i]!, seqs[i]!, hold);
          this.#fetchSpan = undefined;
        }
        fetchSpan?.end();
        counts.records += records;
        lastRecords = records;
        this.#o.instrumentation?.fetched(spec.name, records, entries);
        return records;
      }).finally(() => { this.#admitting -= 1; outstanding.delete(step); });
      chain = step;
      outstanding.add(step);
      // Batches waiting for the journal are not yet counted in flight: allow
      // only as many as the bound has room for (at least one; 4 until a
      // batch's record count is known). Their entries wait as bytes: each is
      // decoded and admitted only below the bound (#room).
      const room = lastRecords === 0 ? 4 : Math.max(1, Math.floor((this.#maxInFlight - this.#inFlight) / lastRecords));
      if (outstanding.size >= Math.min(MAX_PENDING_APPENDS, room)) await Promise.race(outstanding);
      if (spec.rateLimit > 0) {
        const until = started + ((await step) / spec.rateLimit) * 1_000;
        // Sleeps are woken early whenever capacity frees up; that must not cut
        // the rate limit short, so sleep again until it is due (or stop()).
        while (!this.#stopping && Date.now() < until) await this.#sleep(until - Date.now());
      }
    }
    await chain;
  }

  #isIdle(): boolean {
    return this.#inFlight === 0 && this.#admitting === 0 && this.#o.routes.bySource.size > 0 &&
      [...this.#o.routes.bySource.keys()].every((s) => this.#emptySources.has(s) && (this.#emptySince.get(s) ?? this.#finished) === this.#finished);
  }

  /** Decodes one entry and hands its records to the processors reading the source; returns the record count. */
  #admit(spec: SourceSpec, entry: Buffer, seq: number, hold?: LeaseHold, recovered = false): number {
    let decoded;
    try {
      decoded = this.#o.codec.decode(spec, entry);
    } catch (error) {
      const ticket = this.#ticket(seq, spec.name, 1, hold);
      ticket.add();
      this.#deadLetterUndecodable(spec, entry.toString('utf8'), `${spec.topic}@${seq}`, error, ticket);
      ticket.done();
      return 1;
    }
    const ticket = this.#ticket(seq, spec.name, decoded.length, hold);
    const readers = this.#o.routes.bySource.get(spec.name) ?? [];
    decoded.forEach((record, i) => {
      const id = record.id ?? (decoded.length === 1 ? `${spec.topic}@${seq}` : `${spec.topic}@${seq}.${i}`);
      // `dedupe.window`: an envelope id seen recently is an upstream replay.
      if (record.id !== undefined && this.#dedupe.seen(spec, record.id)) return;
      let headers = record.headers;
      if (isRepartition(spec)) {
        const origin = parseOrigin(headers[ORIGIN_HEADER]);
        if (origin !== undefined) {
          // A copy of a record its writer sent again after a crash: its first copy was (or is being) processed here.
          if (this.#o.origins?.duplicate(`${spec.topic}.p${partitionOfKey(record.key ?? '', spec.partitions)}`, origin, id, seq, recovered)) {
            const counts = this.#o.stats.source(spec.name, spec.topic);
            counts.duplicates = (counts.duplicates ?? 0) + 1;
            return;
          }
          headers = { ...headers };
          delete headers[ORIGIN_HEADER];
        }
      }
      if (this.#stamped.has(spec.name)) {
        const stamp = this.#o.origins!.stamp(seq);
        if (stamp !== undefined) headers = { ...headers, [ORIGIN_HEADER]: stamp };
      }
      for (const processor of readers) {
        ticket.add();
        this.#o.submit(processor, {
          record: { id, key: record.key, value: record.value, encoding: record.encoding, headers: this.#o.instrumentation?.joinFetch(this.#fetchSpan, headers) ?? headers, timestamp: record.timestamp, source: spec.name },
          key: record.key, attempt: 1, entry: 0, meta: { ticket, raw: record.raw, sourceTopic: spec.topic, index: i },
        });
      }
    });
    ticket.done();
    return decoded.length;
  }

  /** Dead-letters an entry (or one record of it) that cannot be decoded; `ticket` already counts this unit. */
  #deadLetterUndecodable(spec: SourceSpec, raw: string, recordId: string, error: unknown, ticket: Ticket): void {
    const now = (this.#o.now ?? Date.now)();
    const data = serializeError(error instanceof WalrusError ? error
      : new WalrusError('DESERIALIZATION_ERROR', `cannot decode entry of ${spec.topic}: ${(error as Error)?.message ?? String(error)}`));
    const topic = decodeDeadLetterTopic(this.#o.topology, this.#o.routes, spec.name);
    this.#o.stats.processor('(decode)').deadLettered += 1;
    this.#o.logger?.warn({ source: spec.name, recordId, err: data.message, topic }, 'undecodable record dead-lettered');
    let entry: string;
    try {
      entry = buildDeadLetter({
        entry: raw, error: data, processor: '(decode)', attempts: 1, firstFailureAt: now,
        lastFailureAt: now, sourceTopic: spec.topic, recordId,
      });
    } catch (error) {
      this.#o.logger?.error({ err: serializeError(error), recordId }, 'cannot build dead letter; the entry stays in the journal');
      ticket.fail();
      return;
    }
    if (omitsEntry(entry)) {
      this.#o.logger?.error({ source: spec.name, recordId, topic, sourceTopic: spec.topic, entry: raw },
        'dead letter without its entry: too large to keep beside the failure in one entry, so it is logged here whole');
    }
    this.#o.deadLetterEntry(topic, entry).then(() => { this.#o.instrumentation?.deadLettered('(decode)'); ticket.done(); }, () => ticket.fail());
  }

  /**
   * A ticket for work that has no journal entry (a stream-time tick, see
   * stream-time.ts): it counts as one record in flight — `--until-idle` and
   * shutdown wait for it — and releases nothing when it finishes.
   */
  unjournaledTicket(source: string): Ticket {
    return this.#ticket(-1, source, 1);
  }

  #ticket(seq: number, source: string, records: number, hold?: LeaseHold): Ticket {
    this.#inFlight += records;
    return new Ticket(seq, source, records, (ticket, failed) => {
      const wasFull = this.#inFlight >= this.#maxInFlight;
      this.#inFlight -= ticket.records;
      this.#finished += 1;
      if (!failed) this.#release(ticket.seq);
      else if (ticket.broken) this.#o.stats.summary.unreleased = (this.#o.stats.summary.unreleased ?? 0) + 1;
      hold?.entryDone(failed);
      // Waking on every finish would make idle sources poll at the rate
      // records complete; only a freed-up pipeline or an empty one matters.
      if (this.#inFlight === 0 || (wasFull && this.#inFlight < this.#maxInFlight)) this.#poke();
    });
  }

  /** Releases are batched: one journal write per burst of finished entries. */
  #release(seq: number): void {
    if (!this.#o.journal || seq < 0) return;
    this.#toRelease.push(seq);
    if (this.#toRelease.length === 1) queueMicrotask(() => void this.#flushReleases());
  }

  #flushReleases(): Promise<void> {
    const journal = this.#o.journal;
    if (!journal || this.#toRelease.length === 0) return this.#releasing;
    const seqs = this.#toRelease;
    this.#toRelease = [];
    this.#releasing = this.#releasing.then(() => journal.release(seqs)).catch((error: unknown) => {
      this.#o.logger?.error({ err: serializeError(error) }, 'journal release failed; entries will be reprocessed after a restart');
    });
    return this.#releasing;
  }

  /** Re-admits what a previous run fetched but did not finish (at-least-once across crashes), within the in-flight bound. */
  async #recover(): Promise<void> {
    for (const { seq, source, entry } of this.#o.journal?.unreleased() ?? []) {
      if (this.#inFlight >= this.#maxInFlight && !(await this.#room())) return;
      // An own entry only: a journal entry of a source "constructor" no longer in the topology found Object's and was released unprocessed.
      const spec = Object.hasOwn(this.#o.topology.sources, source) ? this.#o.topology.sources[source] : undefined;
      if (!spec) {
        this.#o.logger?.warn({ seq, source }, 'journal entry of a source no longer in the topology is kept, not processed');
        continue;
      }
      this.#redelivered.add(source, entry);
      this.#o.stats.summary.recovered += this.#admit(spec, entry, seq, undefined, true);
    }
  }

  /**
   * Waits while the records in flight are at the bound: an entry is admitted
   * only below it, so they stay within `maxInFlight` + one entry's records
   * (at most MAX_ENTRY_RECORDS, codec/envelope-format.ts) however many
   * records each entry of a fetched batch holds. False when the run failed
   * meanwhile: what is not admitted stays in the journal (or unacknowledged
   * on the node) for the next start.
   */
  async #room(): Promise<boolean> {
    while (this.#inFlight >= this.#maxInFlight && !this.#fatal) await this.#sleep(100);
    return this.#fatal === undefined;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => { clearTimeout(timer); this.#sleepers.delete(wake); resolve(); };
      // At most the longest timer Node.js sets (callers sleep again until due): a longer one fires after
      // 1 ms with a TimeoutOverflowWarning, so a tiny rateLimit (1e-6/s) spun, printing hundreds of warnings a second.
      const timer = setTimeout(wake, Math.min(ms, MAX_TIMER_MS));
      this.#sleepers.add(wake);
    });
  }

  /** Wakes sleeping loops early: capacity freed, everything finished, or stop(). */
  #poke(): void {
    for (const wake of [...this.#sleepers]) wake();
  }
}
