import { KeyValueStore, storeDir } from '../../src/state/index.js';
import type { Harness } from './harness.js';

/**
 * A topology with one `aggregate:` step `w` on store `w`, reading `<app>.readings`, its results to
 * `<app>.out` and its dead letters to `<app>.dlq`, through 2 workers. `step` adds lines to the step (indented 4).
 */
export const aggregateTopology = (app: string, aggregate: string, step = '') => `
app: ${app}
stateDir: \${STATE_DIR}
workers: 2
sources:
  readings: { topic: ${app}.readings }
stores:
  w: { fsync: never }
processors:
  w:
    input: readings
${step}    deadLetter: ${app}.dlq
    aggregate: ${aggregate}
sinks:
  out: { topic: ${app}.out, input: w }
journal: { fsync: never }
`;

/** Every entry of the app's store `w`, read from its files (run stopped). */
export async function storeEntries(h: Harness, app: string): Promise<Record<string, unknown>> {
  const store = await KeyValueStore.open({ dir: storeDir(h.stateDir, app, 'w'), name: 'w' });
  try {
    return Object.fromEntries(store.range().map((e) => [e.key, e.value]));
  } finally {
    await store.close();
  }
}
