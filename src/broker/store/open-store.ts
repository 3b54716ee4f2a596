import type { ResolvedBrokerOptions } from '../options.js';
import { FileStore } from './file-store.js';
import { MemoryStore } from './memory-store.js';
import type { LogStore } from './types.js';

/** Opens the store the options ask for: memory-only without a dataDir, the segmented file log with one. */
export async function openStore(options: ResolvedBrokerOptions): Promise<LogStore> {
  if (options.dataDir === undefined) return new MemoryStore(options.segmentEntries);
  return FileStore.open({ dataDir: options.dataDir, segmentEntries: options.segmentEntries, segmentBytes: options.segmentBytes, persistCursors: options.persistCursors, syncs: options.fsync !== 'never' });
}
