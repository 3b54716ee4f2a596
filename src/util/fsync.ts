/**
 * The one fsync vocabulary of everything that writes to disk: the local
 * journal, the state stores and the embedded node (and their topology keys).
 * The words follow Walrus's own `FsyncSchedule` (`SyncEach`,
 * `Milliseconds(n)`, `NoFsync`):
 *
 * - `always`: nothing is acknowledged before it is `fdatasync`ed. Writes that
 *   arrive while a sync is running share the next one (group commit), which
 *   changes the cost, not the guarantee. Survives a power loss.
 * - `interval`: acknowledged once written to the OS; `fdatasync` runs on a
 *   timer. A power loss can lose the last interval. (Embedded node only.)
 * - `never`: acknowledged once written to the OS, synced whenever the OS
 *   likes. Survives a crash of the process, not a power loss.
 */
export type FsyncMode = 'always' | 'interval' | 'never';

/**
 * Old spellings still accepted, with what they mean now. The journal once
 * said `batch` for what every other part calls `always`.
 */
export const DEPRECATED_FSYNC: Readonly<Record<string, FsyncMode>> = Object.freeze({ batch: 'always' });

const warned = new Set<string>();

/**
 * Maps a deprecated spelling to its current word, emitting one Node
 * `DeprecationWarning` per option and spelling per process; other values are
 * returned unchanged (the caller validates them).
 *
 * @param where the option's name as the user wrote it, e.g. `Journal option fsync`
 */
export function currentFsyncSpelling<T>(value: T, where: string): T | FsyncMode {
  if (typeof value !== 'string' || !Object.hasOwn(DEPRECATED_FSYNC, value)) return value;
  const current = DEPRECATED_FSYNC[value]!;
  const key = `${where}\u0000${value}`;
  if (!warned.has(key)) {
    warned.add(key);
    process.emitWarning(`${where}: "${value}" is the old spelling of "${current}" (same behaviour); write "${current}". See docs/migration.md.`, {
      type: 'DeprecationWarning',
      code: 'WALRUS_FSYNC_SPELLING',
    });
  }
  return current;
}
