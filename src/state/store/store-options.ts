import { WalrusError } from '../../errors/index.js';
import { currentFsyncSpelling } from '../../util/fsync.js';
import { assertStoreName } from '../model/names.js';
import type { KeyValueStoreOptions } from './store-types.js';

/** The default of `snapshotEveryBytes`: 64 MiB of commit log. */
export const DEFAULT_SNAPSHOT_EVERY_BYTES = 64 * 1024 * 1024;

/** `KeyValueStore.open`'s options, checked, with the defaults filled in. */
export interface ResolvedStoreOptions extends KeyValueStoreOptions {
  fsync: 'always' | 'never';
  snapshotEveryBytes: number;
}

/**
 * Checks the options a user passes to `KeyValueStore.open` (the journal
 * checks its own the same way, options.ts). Before, any `fsync` other than
 * the exact string `'always'` — `'batch'` (the journal's old spelling of
 * it), `'Always'`, `true` — opened the store without fsync, so a power loss
 * could drop commits it had acknowledged; and a `snapshotEveryBytes` of
 * `NaN` (a parse gone wrong) never compared true, so the commit log was
 * never snapshotted nor emptied and grew without end.
 */
export function resolveStoreOptions(opts: KeyValueStoreOptions): ResolvedStoreOptions {
  if (typeof opts !== 'object' || opts === null) {
    throw new WalrusError('CONFIG_INVALID', `KeyValueStore.open expects an options object ({ dir, name, ... }), got ${opts === null ? 'null' : typeof opts}`);
  }
  assertStoreName(opts.name);
  const store = opts.name;
  if (typeof opts.dir !== 'string' || opts.dir === '') throw invalid(store, 'dir', opts.dir, 'a directory path (storeDir(stateDir, app, name))');
  const fsync = currentFsyncSpelling(opts.fsync ?? 'always', `store "${store}" option fsync`);
  if (fsync !== 'always' && fsync !== 'never') throw invalid(store, 'fsync', fsync, "'always' or 'never'");
  const snapshotEveryBytes = opts.snapshotEveryBytes ?? DEFAULT_SNAPSHOT_EVERY_BYTES;
  if (!Number.isSafeInteger(snapshotEveryBytes) || snapshotEveryBytes < 1) {
    throw invalid(store, 'snapshotEveryBytes', snapshotEveryBytes, 'a whole number of bytes ≥ 1 (the commit log is snapshotted and emptied past it)');
  }
  return { ...opts, fsync, snapshotEveryBytes };
}

function invalid(store: string, field: string, value: unknown, expected: string): WalrusError {
  const shown = typeof value === 'number' ? String(value) : JSON.stringify(value) ?? String(value);
  return new WalrusError('CONFIG_INVALID', `store "${store}" option ${field} is ${shown}; expected ${expected}`, { context: { store, field } });
}
