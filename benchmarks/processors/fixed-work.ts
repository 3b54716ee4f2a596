import { defineProcessor } from '../../src/processor/index.js';

/**
 * A fixed amount of CPU work per record: `config.iterations` rounds of an
 * integer hash, a count calibrated once by the benchmark to take ~1 ms on
 * one idle core. Unlike a spin on the clock, the work does not shrink when
 * other threads take the CPU, so 1 vs 2 workers compares honestly.
 */
export default defineProcessor({
  process(record, ctx) {
    const rounds = Number(ctx.config.iterations ?? 100_000);
    let h = 0x811c9dc5;
    for (let i = 0; i < rounds; i++) h = Math.imul(h ^ i, 0x01000193) >>> 0;
    return h === 0.5 ? undefined : record.value;
  },
});
