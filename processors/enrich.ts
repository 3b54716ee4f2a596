import { defineProcessor } from 'walrus-stream/processor';
import type { EnrichedOrder, Order } from './order.js';

interface EnrichConfig {
  /** Rates to EUR by currency. */
  fxToEur: Record<string, number>;
  /** Customer ids of gold and silver customers. */
  tiers: { gold: string[]; silver: string[] };
}

/**
 * Adds the order's total in EUR, its item count and the customer's tier
 * (from `config`). Runs with `ordering: key` on the customer id, so one
 * customer's orders are enriched in the order they arrived.
 */
export default defineProcessor<Order, EnrichedOrder, EnrichConfig>({
  process(record, ctx) {
    const config = ctx.config;
    const order = record.value;
    const rate = config.fxToEur[order.currency];
    if (rate === undefined) throw new Error(`no exchange rate for ${order.currency}`);
    const total = order.items.reduce((sum, item) => sum + item.qty * item.price, 0);
    const tier = config.tiers.gold.includes(order.customerId) ? 'gold'
      : config.tiers.silver.includes(order.customerId) ? 'silver' : 'standard';
    ctx.metrics.increment('orders_enriched', 1, { tier });
    return { ...order, totalEur: Math.round(total * rate * 100) / 100, tier, itemCount: order.items.length };
  },
});
