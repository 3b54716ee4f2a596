import { join } from 'node:path';
import { assertStoreName } from './codec.js';

/** `<stateDir>/<app>/state/<store>/`: where a store keeps its files. */
export function storeDir(stateDir: string, app: string, store: string): string {
  assertStoreName(store);
  return join(stateDir, app, 'state', store);
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
