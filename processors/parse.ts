import { defineProcessor, NonRetriableError } from 'walrus-stream/processor';
import { CURRENCIES, type Order } from './order.js';

/**
 * Parses a plain-text JSON line into an order and validates it. Malformed or
 * invalid input can never succeed on retry: it goes straight to the
 * dead-letter topic with a reason a person can act on.
 */
export default defineProcessor<string, Order>({
  process(record, ctx) {
    let data: unknown;
    try {
      data = JSON.parse(record.value);
    } catch (error) {
      throw new NonRetriableError(`malformed JSON: ${(error as Error).message}`);
    }
    const problem = validate(data);
    if (problem) throw new NonRetriableError(`invalid order ${describe(data)}: ${problem}`);
    const order = data as Order;
    // Keyed by customer from here on, so `enrich` can keep each customer's order.
    ctx.emit('default', order, { key: order.customerId });
  },
});

function validate(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'not a JSON object';
  const o = data as Record<string, unknown>;
  if (typeof o.orderId !== 'string' || o.orderId === '') return '"orderId" must be a non-empty string';
  if (typeof o.customerId !== 'string' || o.customerId === '') return '"customerId" must be a non-empty string';
  if (!CURRENCIES.includes(o.currency as Order['currency'])) return `"currency" must be one of ${CURRENCIES.join(', ')} (got ${JSON.stringify(o.currency)})`;
  if (!Array.isArray(o.items) || o.items.length === 0) return '"items" must be a non-empty array';
  for (const [i, item] of (o.items as Array<Record<string, unknown>>).entries()) {
    if (typeof item?.sku !== 'string') return `items[${i}].sku must be a string`;
    if (!Number.isInteger(item.qty) || (item.qty as number) < 1) return `items[${i}].qty must be a positive integer (got ${JSON.stringify(item.qty)})`;
    if (typeof item.price !== 'number' || item.price < 0) return `items[${i}].price must be a non-negative number (got ${JSON.stringify(item.price)})`;
  }
  return undefined;
}

function describe(data: unknown): string {
  const id = (data as { orderId?: unknown } | null)?.orderId;
  return typeof id === 'string' ? id : '(no orderId)';
}
