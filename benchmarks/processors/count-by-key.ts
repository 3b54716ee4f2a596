import { defineProcessor } from '../../src/processor/index.js';
import { count } from '../../src/state/index.js';

/** Stateful count by key (store `counts`): emits the key's new count. */
export default defineProcessor<unknown, { key: string; n: number }>({
  process(record, ctx) {
    return { key: record.key!, n: count(ctx.state('counts'), record.key!) };
  },
});
