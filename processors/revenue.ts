import { defineProcessor } from 'walrus-stream/processor';
import { fromField, lateRecordError, tumbling, windowedAggregate } from 'walrus-stream/processor';
import type { EnrichedOrder } from './order.js';

/** One customer's revenue in one hour of event time, as of the order just counted. */
export interface HourlyRevenue {
  customerId: string;
  /** Window start and end (ISO-8601, end exclusive). */
  from: string;
  to: string;
  revenueEur: number;
  orders: number;
  /** True once the window closed (the last result for it); false for a running figure. */
  final: boolean;
}

const HOUR = 3_600_000;
// Orders may reach this step out of order (`parse` is unordered): a day of
// grace keeps every order of the bounded sample in its window. A long-running
// deployment would pick the delay it can tolerate.
const GRACE = 24 * HOUR;

/**
 * Revenue per customer per hour of `createdAt`, kept in state store
 * `revenue` (runs in key ordering on the customer id): every order emits its
 * window's running total, and a window that closes emits its final figure.
 * An order older than its window + grace is late and is dead-lettered.
 */
export default defineProcessor<EnrichedOrder, HourlyRevenue>({
  process(record, ctx) {
    const step = windowedAggregate(ctx.state('revenue'), record, {
      windows: tumbling(HOUR), graceMs: GRACE, eventTime: fromField('createdAt'),
      init: () => ({ revenueEur: 0, orders: 0 }),
      aggregate: (acc: { revenueEur: number; orders: number }, order) => ({
        revenueEur: Math.round((acc.revenueEur + order.totalEur) * 100) / 100, orders: acc.orders + 1,
      }),
    });
    if (step.late) throw lateRecordError(record, step.eventTime, step.streamTime, GRACE);
    return [...step.closed, ...step.updates].map((w) => ({
      customerId: w.key, from: new Date(w.start).toISOString(), to: new Date(w.end).toISOString(),
      revenueEur: w.value.revenueEur, orders: w.value.orders, final: w.final,
    }));
  },
});
