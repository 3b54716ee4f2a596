import { zod } from '../../util/zod.js';
import { MAX_PARTITIONS } from '../../codec/partitioning.js';
import { count, size, topic } from './schema-fields.js';

const z = zod();

/**
 * One keyed state store (`stores:` in the topology). The store itself lives
 * in `src/state/`; these are the knobs a topology may turn. Names are checked
 * in `stores.ts`, where the key's position is known.
 */
export const storeSchema = z
  .strictObject({
    changelog: topic().optional().describe('Changelog topic the store is mirrored to (restore on a new machine). Default: `<app>-<store>-changelog`.'),
    partitions: count(1, 1, MAX_PARTITIONS).describe('How the store\'s keys are partitioned: with `run --instances` > 1 it must equal the `partitions` of the keyed sources the store is fed from. Each partition is a store of its own: files under `<stateDir>/<app>/state/<store>/p<i>/`, changelog topic `<changelog>.p<i>`; an instance opens only the partitions it owns and restores one it takes over from its changelog (docs/scaling.md).'),
    fsync: z.enum(['always', 'never']).default('always').describe('`always`: a commit is acknowledged after fdatasync (commits arriving together share one, group commit); `never`: after the write (survives a process crash, not a power loss).'),
    snapshotEvery: size('64MiB').describe('Write a snapshot and empty the commit log once the log grows past this size.'),
    restoreBatch: count(2000, 1, 2000).describe('Most changelog entries fetched per request while restoring an empty store.'),
  })
  .prefault({})
  .describe('A keyed state store.');
