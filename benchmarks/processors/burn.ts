import { defineProcessor } from '../../src/processor/index.js';

/** Burns `config.ms` (default 1) of CPU per record: the CPU-bound case of the pipeline benchmark. */
export default defineProcessor({
  process(record, ctx) {
    const end = performance.now() + Number(ctx.config.ms ?? 1);
    let x = 0;
    while (performance.now() < end) x += Math.sqrt(x + 1);
    return x >= 0 ? record.value : undefined;
  },
});
