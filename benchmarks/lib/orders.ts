/**
 * Order lines like examples/orders.jsonl, as many as a benchmark needs:
 * 120 customers, 1–4 items, three currencies, event times 37 s apart (so
 * hourly revenue windows open and close all along a long run), and one line
 * in 200 malformed or invalid, which the example dead-letters. Seeded: the
 * same `n` gives the same lines.
 */
export function orderLines(n: number, seed = 20261204): string[] {
  let s = seed;
  const random = () => ((s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const currencies = ['EUR', 'USD', 'GBP'];
  const lines = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const items = Array.from({ length: 1 + Math.floor(random() * 4) }, () => ({
      sku: `SKU-${String(1 + Math.floor(random() * 40)).padStart(3, '0')}`, qty: 1 + Math.floor(random() ** 3 * 12),
      price: Math.round((2 + random() * 180) * 100) / 100,
    }));
    const order = {
      orderId: `o-${i + 1}`, customerId: `c-${String(1 + Math.floor(random() * 120)).padStart(3, '0')}`, items,
      currency: currencies[Math.floor(random() * 3)], createdAt: new Date(Date.UTC(2026, 5, 1) + i * 37_000).toISOString(),
    };
    const line = JSON.stringify(order);
    lines[i] = i % 200 === 199 ? (i % 400 === 399 ? line.slice(0, 40) : line.replace('"currency":"', '"currency":"X')) : line;
  }
  return lines;
}

/** Lines `orderLines` makes invalid (for the example's expected counts). */
export function invalidOrders(n: number): number {
  return Math.floor(n / 200);
}
