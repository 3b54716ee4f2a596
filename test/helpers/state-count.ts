import { fileURLToPath } from 'node:url';

/**
 * The keyed orders of the state-count fixture (test/fixtures/processors/state-count.ts)
 * and what its store must hold after them: for tests that disturb a
 * stateful run (kills, lost ACKs) and then check that every record was
 * counted exactly once.
 */
export const COUNT_KEYS = 10;

export const countOrder = (i: number) => ({ key: `cust-${(i * 7) % COUNT_KEYS}`, value: { i, amount: (i % 5) + 1 } });

/** After records 0..n-1: the totals per key, and per record its key's totals including it (what its output must say). */
export function expectedCounts(n: number): { totals: Map<string, { n: number; sum: number }>; prefix: Map<number, { n: number; sum: number }> } {
  const totals = new Map<string, { n: number; sum: number }>();
  const prefix = new Map<number, { n: number; sum: number }>();
  for (let i = 0; i < n; i++) {
    const { key, value } = countOrder(i);
    const before = totals.get(key) ?? { n: 0, sum: 0 };
    const next = { n: before.n + 1, sum: before.sum + value.amount };
    totals.set(key, next);
    prefix.set(i, next);
  }
  return { totals, prefix };
}

/** A topology: source `orders` (with `poll`), key-ordered `count` into store `totals`, sink `out` → counts.out. */
export function countTopology(o: { app: string; stateDir: string; source: string; cluster?: string }): string {
  return `
app: ${o.app}
stateDir: ${JSON.stringify(o.stateDir)}
${o.cluster ? `cluster: ${o.cluster}` : ''}
sources:
  orders: ${o.source}
processors:
  count: { module: ${JSON.stringify(fileURLToPath(new URL('../fixtures/processors/state-count.ts', import.meta.url)))}, input: orders, ordering: key, stores: [totals], batchSize: 8 }
sinks:
  out: { topic: counts.out, input: count, batch: { maxRecords: 50 } }
stores:
  totals: {}
`;
}
