/**
 * The floor of case (d): the bundled example's four processors (processors/)
 * called directly, one order after another in one thread, with the least a
 * pipeline must do around them — read each line, keep the revenue windows in
 * a plain in-memory map, turn every sink record into JSON bytes. No
 * framework: no threads, no wire encoding, no journal, no durable state, no
 * node. What it costs per order is what the example's own code costs, the
 * CPU no runtime can save; case (d) minus this is the framework's share.
 */
import parse from '../../processors/parse.js';
import enrich from '../../processors/enrich.js';
import route from '../../processors/route.js';
import revenue from '../../processors/revenue.js';
import { mainThreadCpuMs } from './cpu.js';

type Emitted = { port: string; value: unknown; key?: string };

/** Windows of one customer (keys `customer@…`), so a range reads one customer's entries only. */
class MemoryView {
  readonly name = 'revenue';
  readonly #scopes = new Map<string, Map<string, unknown>>();

  #scope(key: string): Map<string, unknown> {
    const at = key.indexOf('@');
    const scope = at < 0 ? key : key.slice(0, at);
    let m = this.#scopes.get(scope);
    if (m === undefined) this.#scopes.set(scope, (m = new Map()));
    return m;
  }

  get<T>(key: string): T | undefined { return this.#scope(key).get(key) as T | undefined; }
  put(key: string, value: unknown): void { this.#scope(key).set(key, value); }
  delete(key: string): void { this.#scope(key).delete(key); }
  range<T>(opts: { prefix?: string; start?: string; end?: string; limit?: number } = {}): Array<{ key: string; value: T }> {
    const from = opts.prefix ?? opts.start ?? '';
    const keys = [...this.#scope(from).keys()].sort();
    const out: Array<{ key: string; value: T }> = [];
    for (const key of keys) {
      if (opts.prefix !== undefined && !key.startsWith(opts.prefix)) continue;
      if (opts.start !== undefined && key < opts.start) continue;
      if (opts.end !== undefined && key >= opts.end) continue;
      out.push({ key, value: this.get<T>(key)! });
      if (opts.limit !== undefined && out.length >= opts.limit) break;
    }
    return out;
  }
}

export interface FloorResult { orders: number; sunk: number; deadLettered: number; cpuMs: number; elapsedMs: number }

/** Runs `lines` through parse → enrich → route + revenue, as topology.yaml wires them. */
export function runExampleDirectly(lines: readonly string[], config: { enrich: unknown; route: unknown }): FloorResult {
  const store = new MemoryView();
  let emitted: Emitted[] = [];
  const metrics = { increment() {}, observe() {}, set() {} };
  const ctx = (cfg: unknown) => ({
    config: cfg, metrics, state: () => store,
    emit(port: string, value: unknown, opts?: { key?: string }) { emitted.push({ port, value, key: opts?.key }); },
  });
  const parseCtx = ctx({});
  const enrichCtx = ctx(config.enrich);
  const routeCtx = ctx(config.route);
  const revenueCtx = ctx({});
  let sunk = 0;
  let dead = 0;
  let bytes = 0;
  const sink = (value: unknown) => { bytes += Buffer.from(JSON.stringify(value)).length; sunk += 1; };
  const cpu = mainThreadCpuMs();
  const started = performance.now();
  for (let i = 0; i < lines.length; i++) {
    const base = { id: `orders@${i}`, timestamp: i, headers: {}, attempt: 1 };
    emitted = [];
    try {
      parse.process({ ...base, value: lines[i]! } as never, parseCtx as never);
    } catch {
      dead += 1;
      continue;
    }
    const parsed = emitted[0]!;
    const record = { ...base, key: parsed.key, value: parsed.value };
    const enriched = enrich.process(record as never, enrichCtx as never) as unknown;
    const next = { ...record, value: enriched };
    emitted = [];
    route.process(next as never, routeCtx as never);
    for (const e of emitted) sink(e.value);
    try {
      for (const out of revenue.process(next as never, revenueCtx as never) as unknown[]) sink(out);
    } catch {
      dead += 1;
    }
  }
  if (bytes === 0) throw new Error('nothing was serialized');
  return { orders: lines.length, sunk, deadLettered: dead, cpuMs: mainThreadCpuMs() - cpu, elapsedMs: performance.now() - started };
}
