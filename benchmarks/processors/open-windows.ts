import { defineProcessor } from '../../src/processor/index.js';
import { fromField, tumbling, windowedAggregate } from '../../src/state/index.js';

/** Count per key per 1 ms window of `seq`, 24 h of grace: every window of a key stays open (their number grows with the input). */
export default defineProcessor<{ seq: number }, { key: string; windows: number }>({
  process(record, ctx) {
    const step = windowedAggregate(ctx.state('counts'), record, {
      windows: tumbling(1), graceMs: 24 * 3_600_000, eventTime: fromField('seq'), init: () => 0, aggregate: (n: number) => n + 1,
    });
    return { key: record.key!, windows: step.updates.length };
  },
});
