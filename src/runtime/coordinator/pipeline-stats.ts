/** Counts of one processor. */
export interface ProcessorCounts {
  /** Records that went through successfully. */
  processed: number;
  /** Successful records that produced no output. */
  dropped: number;
  /** Outputs emitted. */
  emitted: number;
  retries: number;
  deadLettered: number;
  /** Records cut short by shutdown (left in the journal for the next start). */
  abandoned: number;
  /** Sum of processing time of successful attempts, ms. */
  busyMs: number;
}

/** What `run` prints at the end (and what the progress line shows). */
export interface PipelineSummary {
  elapsedMs: number;
  /** `duplicates`: records dropped by the source's `dedupe` window (present once there is one). */
  sources: Record<string, { topic: string; entries: number; records: number; duplicates?: number }>;
  processors: Record<string, ProcessorCounts>;
  sinks: Record<string, { topic: string; records: number; entries: number }>;
  deadLetters: Record<string, number>;
  inFlight: number;
  /** Records recovered from the journal at start (a previous run's unreleased entries). */
  recovered: number;
  /**
   * Entries whose processing could not be completed (a sink, dead-letter or
   * state write failed for good): they were not released, so they stay in
   * the journal (or, without one, unacknowledged at the node) and are
   * processed again at the next start. Present once there is one.
   */
  unreleased?: number;
}

/** The coordinator's own counters: cheap increments, a snapshot on demand. */
export class PipelineStats {
  #started: number;
  readonly #now: () => number;
  readonly summary: Omit<PipelineSummary, 'elapsedMs' | 'inFlight'>;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#started = now();
    this.summary = { sources: {}, processors: {}, sinks: {}, deadLetters: {}, recovered: 0 };
  }

  /** Restarts the clock (the run begins after setup: node start, module loading, seeding). */
  startClock(): void {
    this.#started = this.#now();
  }

  source(name: string, topic: string) {
    return own(this.summary.sources, name, () => ({ topic, entries: 0, records: 0 })) as { topic: string; entries: number; records: number; duplicates?: number };
  }

  processor(name: string): ProcessorCounts {
    return own(this.summary.processors, name, () => ({ processed: 0, dropped: 0, emitted: 0, retries: 0, deadLettered: 0, abandoned: 0, busyMs: 0 }));
  }

  sink(name: string, topic: string) {
    return own(this.summary.sinks, name, () => ({ topic, records: 0, entries: 0 }));
  }

  deadLetter(topic: string, n = 1): void {
    own(this.summary.deadLetters, topic, () => 0);
    this.summary.deadLetters[topic]! += n;
  }

  snapshot(inFlight: number): PipelineSummary {
    return structuredClone({ ...this.summary, elapsedMs: this.#now() - this.#started, inFlight });
  }
}

/**
 * The entry `name` of a table, made on first use. Only an own property
 * counts: a source, processor, sink or topic may be named "constructor" or
 * "toString", and `table[name] ??= ...` then found Object's and added the
 * counts onto it (a source "constructor" overwrote Object.entries). A
 * "__proto__" entry is defined, not assigned (assigning sets the prototype).
 */
function own<T>(table: Record<string, T>, name: string, make: () => T): T {
  if (!Object.hasOwn(table, name)) Object.defineProperty(table, name, { value: make(), writable: true, enumerable: true, configurable: true });
  return table[name]!;
}
