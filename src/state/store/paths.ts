import { join } from 'node:path';
import { assertStoreName } from '../model/names.js';

/** `<stateDir>/<app>/state/<store>/`: where a store keeps its files. */
export function storeDir(stateDir: string, app: string, store: string): string {
  assertStoreName(store);
  return join(stateDir, app, 'state', store);
}

/**
 * Where partition `partition` of a store with `partitions` partitions keeps
 * its files: `<storeDir>/p<i>/` (docs/scaling.md, "Stateful topologies"), or
 * the store directory itself for an unpartitioned store. Each partition is a
 * store of its own (log, snapshot, lock, changelog cursor), so two instances
 * sharing a stateDir never open the same files.
 */
export function partitionStoreDir(stateDir: string, app: string, store: string, partition: number, partitions: number): string {
  const dir = storeDir(stateDir, app, store);
  return partitions <= 1 ? dir : join(dir, partitionDirName(partition));
}

/** `p<i>`: the directory of partition `i` inside a store directory. */
export function partitionDirName(partition: number): string {
  return `p${partition}`;
}

/** The partition a `p<i>` directory name stands for, or undefined for any other name. */
export function partitionOfDirName(name: string): number | undefined {
  const match = /^p(0|[1-9]\d{0,5})$/.exec(name);
  return match === null ? undefined : Number(match[1]);
}

/** The files inside a store directory. */
export const STORE_FILES = {
  /** Append-only log of committed change sets since the last snapshot. */
  log: 'commits.log',
  /** Atomic snapshot of the committed state (written by compaction). */
  snapshot: 'snapshot.bin',
  /** Last commit seq published to the changelog topic. */
  changelogCursor: 'changelog.json',
  /** Present while a restore from the changelog is in progress. */
  restoreMarker: 'restore.json',
} as const;
