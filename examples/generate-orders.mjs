#!/usr/bin/env node
// Generates examples/orders.jsonl, the sample data of the bundled example:
// 2,000 order events, one JSON object per line, from a fixed seed (so the file
// and the example's counts never change), with a handful of malformed lines
// and invalid orders that must end in the dead-letter topic.
//   node examples/generate-orders.mjs > examples/orders.jsonl
let seed = 20260611;
const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
const pick = (xs) => xs[Math.floor(random() * xs.length)];
const currencies = ['EUR', 'USD', 'GBP'];
const skus = Array.from({ length: 40 }, (_, i) => ({ sku: `SKU-${String(i + 1).padStart(3, '0')}`, price: Math.round((2 + random() * 180) * 100) / 100 }));

const lines = [];
for (let i = 1; i <= 2000; i++) {
  const items = Array.from({ length: 1 + Math.floor(random() * 4) }, () => {
    const { sku, price } = pick(skus);
    return { sku, qty: 1 + Math.floor(random() ** 3 * 12), price };
  });
  const order = {
    orderId: `o-${String(i).padStart(5, '0')}`,
    customerId: `c-${String(1 + Math.floor(random() * 120)).padStart(3, '0')}`,
    items,
    currency: pick(currencies),
    createdAt: new Date(Date.UTC(2026, 5, 1) + i * 37_000).toISOString(),
  };
  lines.push(JSON.stringify(order));
}
// Malformed lines (not JSON at all, or cut short).
const malformed = [17, 404, 999, 1500, 1987];
for (const i of malformed) lines[i - 1] = lines[i - 1].slice(0, 40);
lines[611] = 'ORDER o-00612 c-001 SKU-001 x2';
// Invalid orders (valid JSON, failing validation).
const invalid = {
  120: (o) => { o.items = []; },
  333: (o) => { o.items[0].qty = 0; },
  777: (o) => { delete o.customerId; },
  1024: (o) => { o.currency = 'BTC'; },
  1313: (o) => { o.items[0].price = -5; },
  1666: (o) => { o.orderId = 42; },
  1900: (o) => { o.items[0].qty = 2.5; },
};
for (const [i, mutate] of Object.entries(invalid)) {
  const o = JSON.parse(lines[i - 1]);
  mutate(o);
  lines[i - 1] = JSON.stringify(o);
}
process.stdout.write(`${lines.join('\n')}\n`);
