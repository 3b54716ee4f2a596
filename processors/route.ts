import { defineProcessor } from 'walrus-stream/processor';
import type { EnrichedOrder } from './order.js';

/**
 * Large orders (total ≥ `config.reviewThresholdEur`) go to `review`; the
 * rest to `accepted`. Gold customers skip review up to twice the threshold.
 */
export default defineProcessor<EnrichedOrder, EnrichedOrder>({
  process(record, ctx) {
    const threshold = Number(ctx.config.reviewThresholdEur ?? 1000);
    const order = record.value;
    const limit = order.tier === 'gold' ? threshold * 2 : threshold;
    ctx.emit(order.totalEur >= limit ? 'review' : 'accepted', order, { headers: { 'order-tier': order.tier } });
  },
});
