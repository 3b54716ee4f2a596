/**
 * Plain running totals for the live progress view. prom-client's values are
 * only readable asynchronously and by label hash, so the hub keeps this
 * small mirror that the progress reporter can read every tick for free.
 */
export interface ProgressSnapshot {
  /** Epoch ms when the snapshot was taken (rates are computed between two snapshots). */
  at: number;
  fetched: Record<string, number>;
  processed: Record<string, number>;
  emitted: Record<string, number>;
  errors: number;
  retried: number;
  deadLettered: number;
  inFlight: number;
  workers: number;
  /** 0..1. */
  utilization: number;
  lag: Record<string, number>;
}

type PerName = 'fetched' | 'processed' | 'emitted';
type Total = 'errors' | 'retried' | 'deadLettered';
type Level = 'inFlight' | 'workers' | 'utilization';

export class ProgressTally {
  #per: Record<PerName, Map<string, number>> = { fetched: new Map(), processed: new Map(), emitted: new Map() };
  #totals: Record<Total, number> = { errors: 0, retried: 0, deadLettered: 0 };
  #levels: Record<Level, number> = { inFlight: 0, workers: 0, utilization: 0 };
  #lag = new Map<string, number>();

  add(kind: PerName, name: string, n: number): void {
    const map = this.#per[kind];
    map.set(name, (map.get(name) ?? 0) + n);
  }

  bump(kind: Total, n: number): void {
    this.#totals[kind] += n;
  }

  set(kind: Level, value: number): void {
    this.#levels[kind] = value;
  }

  setLag(source: string, entries: number): void {
    this.#lag.set(source, entries);
  }

  snapshot(at: number): ProgressSnapshot {
    return {
      at,
      fetched: Object.fromEntries(this.#per.fetched),
      processed: Object.fromEntries(this.#per.processed),
      emitted: Object.fromEntries(this.#per.emitted),
      ...this.#totals,
      ...this.#levels,
      lag: Object.fromEntries(this.#lag),
    };
  }
}
