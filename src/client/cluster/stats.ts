import type { ReplySample } from '../transport/connection.js';

/** Upper bounds (ms) of the latency histogram buckets; the last bucket is +Inf. */
export const LATENCY_BUCKETS_MS = [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

export interface LatencySnapshot {
  count: number;
  sumMs: number;
  maxMs: number;
  /** Cumulative counts per bucket of LATENCY_BUCKETS_MS, then +Inf (Prometheus layout). */
  buckets: number[];
}

export interface CommandStats {
  ok: number;
  error: number;
  abandoned: number;
  /** Errors by code. */
  errors: Record<string, number>;
  bytesOut: number;
  bytesIn: number;
  latency: LatencySnapshot;
}

/** Per-command counters of one node; cheap to update on every reply. */
export class CommandCounters {
  ok = 0;
  error = 0;
  abandoned = 0;
  bytesOut = 0;
  bytesIn = 0;
  sumMs = 0;
  maxMs = 0;
  readonly errors = new Map<string, number>();
  readonly buckets = new Uint32Array(LATENCY_BUCKETS_MS.length + 1);

  record(sample: ReplySample): void {
    if (sample.outcome === 'ok') this.ok++;
    else if (sample.outcome === 'abandoned') this.abandoned++;
    else {
      this.error++;
      const code = sample.error?.code ?? 'UNKNOWN';
      this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    }
    this.bytesOut += sample.bytesOut;
    this.bytesIn += sample.bytesIn;
    const ms = sample.durationMs;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]!) i++;
    this.buckets[i]!++;
  }

  snapshot(): CommandStats {
    const cumulative: number[] = [];
    let running = 0;
    for (const n of this.buckets) cumulative.push((running += n));
    return {
      ok: this.ok,
      error: this.error,
      abandoned: this.abandoned,
      errors: Object.fromEntries(this.errors),
      bytesOut: this.bytesOut,
      bytesIn: this.bytesIn,
      latency: { count: running, sumMs: this.sumMs, maxMs: this.maxMs, buckets: cumulative },
    };
  }
}

/** Client-wide counters for what retries and failovers did (docs/client.md, "What a retry can do"). */
export interface RetryCounters {
  retries: number;
  possibleDuplicates: number;
  possibleLosses: number;
  discardedEntries: number;
  failovers: number;
  fallbacks: number;
  /**
   * Entries of leases whose ACK did not reach the node (its connection was
   * lost, or the lease had timed out): the node delivers them again, so
   * they may be seen twice — never lost.
   */
  leaseRedeliveries: number;
}

export function emptyRetryCounters(): RetryCounters {
  return { retries: 0, possibleDuplicates: 0, possibleLosses: 0, discardedEntries: 0, failovers: 0, fallbacks: 0, leaseRedeliveries: 0 };
}
