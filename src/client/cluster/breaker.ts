import { WalrusError } from '../../errors/index.js';
import { systemClock, type Clock } from '../transport/clock.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerSettings {
  failureThreshold: number;
  /** The longest an opening lasts (openings start at FIRST_OPENING_MS and double). */
  openDurationMs: number;
  halfOpenAttempts: number;
}

/**
 * How long the first opening lasts (or `openDurationMs`, if shorter). Each
 * reopening after a failed half-open trial lasts twice as long as the one
 * before, up to `openDurationMs`; closing starts over. So a node back after
 * a short outage is tried again within about as long as it was away
 * (KafkaJS starts its reconnect backoff at 300 ms, librdkafka at 100 ms),
 * while a dead node is tried ever more rarely, then once per `openDurationMs`.
 */
export const FIRST_OPENING_MS = 250;

/** What `client.stats()` shows per node. */
export interface BreakerSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  /** Milliseconds until an open breaker lets a trial call through (0 unless open). */
  retryAfterMs: number;
  opened: number;
  closed: number;
  rejected: number;
}

/**
 * A circuit breaker for one node.
 *
 * closed → `failureThreshold` consecutive node failures → open.
 * open → fails fast with CIRCUIT_OPEN carrying `retryAfterMs`; after the
 * opening's length (FIRST_OPENING_MS, doubling with every reopening up to
 * `openDurationMs`) → half-open.
 * half-open → admits up to `halfOpenAttempts` trial calls at a time;
 * `halfOpenAttempts` successes → closed (the next opening is short again),
 * any failure → open again, for twice as long as the last opening.
 *
 * Written here rather than taken from cockatiel: we need the state per node
 * readable synchronously by the balancer (to route around an open node
 * without making a call), the exact `retryAfterMs` in the error, and an
 * injected clock so tests do not sleep for 30 s. Outcomes are reported by
 * the caller (`success`/`failure`/`neutral`) because only node failures —
 * not "unknown topic" — say anything about the node.
 */
export class CircuitBreaker {
  readonly #settings: BreakerSettings;
  readonly #clock: Clock;
  readonly #node: string;
  readonly #onChange: ((state: BreakerState) => void) | undefined;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openUntil = 0;
  /** Length of the current (or last) opening. */
  #openingMs = 0;
  /** Openings since the breaker was last closed. */
  #openings = 0;
  #trials = 0;
  #trialSuccesses = 0;
  #counters = { opened: 0, closed: 0, rejected: 0 };

  constructor(node: string, settings: BreakerSettings, clock: Clock = systemClock, onChange?: (state: BreakerState) => void) {
    this.#node = node;
    this.#settings = settings;
    this.#clock = clock;
    this.#onChange = onChange;
  }

  get state(): BreakerState {
    if (this.#state === 'open' && this.#clock.now() >= this.#openUntil) this.#transition('half-open');
    return this.#state;
  }

  /** Milliseconds until an open breaker admits a trial call; 0 when it would admit one now. */
  get retryAfterMs(): number {
    return this.state === 'open' ? Math.max(0, Math.ceil(this.#openUntil - this.#clock.now())) : 0;
  }

  /** True when `admit()` would let a call through right now (no side effects). */
  get available(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half-open' && this.#trials < this.#settings.halfOpenAttempts);
  }

  /** Lets a call through or throws CIRCUIT_OPEN. Every admitted call must end in success/failure/neutral. */
  admit(): void {
    const state = this.state;
    if (state === 'closed') return;
    if (state === 'half-open' && this.#trials < this.#settings.halfOpenAttempts) {
      this.#trials++;
      return;
    }
    this.#counters.rejected++;
    const retryAfterMs = state === 'open' ? this.retryAfterMs : Math.max(1, Math.ceil(this.#openingMs / 10));
    throw new WalrusError(
      'CIRCUIT_OPEN',
      state === 'open'
        ? `Circuit breaker for node ${this.#node} is open after ${this.#settings.failureThreshold} consecutive failures; try again in ${retryAfterMs} ms.`
        : `Circuit breaker for node ${this.#node} is half-open and already has ${this.#settings.halfOpenAttempts} trial calls in flight; try again in ${retryAfterMs} ms.`,
      { context: { node: this.#node, retryAfterMs, breakerState: state } },
    );
  }

  success(): void {
    if (this.#state === 'half-open') {
      this.#trials = Math.max(0, this.#trials - 1);
      if (++this.#trialSuccesses >= this.#settings.halfOpenAttempts) this.#transition('closed');
      return;
    }
    this.#failures = 0;
  }

  failure(): void {
    if (this.#state === 'half-open') {
      this.#transition('open');
      return;
    }
    if (this.#state === 'open') return;
    if (++this.#failures >= this.#settings.failureThreshold) this.#transition('open');
  }

  /** The call ended in a way that says nothing about the node (e.g. `unknown topic`, an abort). */
  neutral(): void {
    if (this.#state === 'half-open') this.#trials = Math.max(0, this.#trials - 1);
  }

  snapshot(): BreakerSnapshot {
    return { state: this.state, consecutiveFailures: this.#failures, retryAfterMs: this.retryAfterMs, ...this.#counters };
  }

  #transition(to: BreakerState): void {
    if (this.#state === to) return;
    this.#state = to;
    this.#trials = 0;
    this.#trialSuccesses = 0;
    if (to === 'open') {
      this.#openingMs = Math.min(this.#settings.openDurationMs, FIRST_OPENING_MS * 2 ** Math.min(this.#openings, 30));
      this.#openings++;
      this.#openUntil = this.#clock.now() + this.#openingMs;
      this.#counters.opened++;
    } else if (to === 'closed') {
      this.#failures = 0;
      this.#openings = 0;
      this.#counters.closed++;
    }
    this.#onChange?.(to);
  }
}
