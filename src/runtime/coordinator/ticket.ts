/**
 * Tracks one fetched entry through the pipeline: every unit of work it causes
 * (a record at a processor, an output at a sink, a dead letter being written)
 * adds one; the entry is released from the journal only when all are done and
 * none failed. Starts at one (the admission), so it cannot finish while its
 * records are still being handed out.
 */
export class Ticket {
  readonly seq: number;
  readonly source: string;
  /** Records decoded from the entry (what counts against the in-flight bound). */
  readonly records: number;
  #pending = 1;
  #failed = false;
  /** Why the first failed unit failed (for the error a stateful entry stops the pipeline with). */
  failure: unknown;
  readonly #onFinish: (ticket: Ticket, failed: boolean) => void;

  constructor(seq: number, source: string, records: number, onFinish: (ticket: Ticket, failed: boolean) => void) {
    this.seq = seq;
    this.source = source;
    this.records = records;
    this.#onFinish = onFinish;
  }

  add(n = 1): void {
    this.#pending += n;
  }

  /**
   * Work to finish before the entry counts as done (state commits, see
   * state-tickets.ts); resolves with whether the entry failed. One function
   * serves many tickets: it is given the ticket.
   */
  beforeFinish: ((failed: boolean, ticket: Ticket) => Promise<boolean>) | undefined;

  /** The entry's staged state changes, committed by `beforeFinish` (state-tickets.ts; opaque here). */
  stateChanges: unknown[] | undefined;

  done(): void {
    this.#pending -= 1;
    if (this.#pending !== 0) return;
    if (this.beforeFinish === undefined) this.#onFinish(this, this.#failed);
    else void this.beforeFinish(this.#failed, this).then((failed) => this.#onFinish(this, failed));
  }

  /** A unit could not be completed (a sink write failed for good): the entry must stay in the journal. */
  fail(reason?: unknown): void {
    this.broken = true;
    this.#failed = true;
    if (this.failure === undefined) this.failure = reason;
    this.done();
  }

  /** A unit was cut short by shutdown: the entry stays in the journal, but nothing failed. */
  abandon(reason?: unknown): void {
    this.#failed = true;
    if (this.failure === undefined) this.failure = reason;
    this.done();
  }

  /** True once a unit failed (not merely cut short by shutdown: {@link abandon}). */
  broken = false;
}
