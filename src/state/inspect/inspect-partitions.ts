import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspectStore, type StoreInspection } from './inspect.js';
import { partitionDirName, partitionOfDirName, storeDir } from '../store/paths.js';
import { compareKeys, type RangeOptions, type StateEntry } from '../model/range.js';
import { appendAll } from '../../util/append.js';

/** A store as the files of a stateDir hold it: one partition per directory of a partitioned store, or the store itself. */
export interface PartitionedInspection {
  name: string;
  dir: string;
  /** Partitions read (undefined: an unpartitioned store). */
  partitions: Array<{ partition: number } & Omit<StoreInspection, 'entries' | 'name'>> | undefined;
  /**
   * Partitions with files here that no instance using this stateDir held at
   * its last start: stale copies (another instance owns them now), not read
   * unless asked for with `partition`.
   */
  stale: number[];
  keys: number;
  entries: Array<StateEntry<unknown>>;
}

/** The partitions a store keeps in `p<i>` directories under its store directory, ascending. */
export async function localPartitions(dir: string): Promise<number[]> {
  try {
    const names = await readdir(dir, { withFileTypes: true });
    return names.filter((d) => d.isDirectory()).map((d) => partitionOfDirName(d.name)).filter((p): p is number => p !== undefined).sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/**
 * The partitions of `store` the instances using this stateDir held at their
 * last start, from their ownership records (`<app>/partitions.json` and
 * `<app>/instances/<id>/partitions.json`); undefined when there is none.
 */
export async function heldPartitions(stateDir: string, app: string, store: string): Promise<Set<number> | undefined> {
  const files = [join(stateDir, app, 'partitions.json')];
  try {
    for (const id of await readdir(join(stateDir, app, 'instances'))) files.push(join(stateDir, app, 'instances', id, 'partitions.json'));
  } catch { /* no instances directory */ }
  let held: Set<number> | undefined;
  for (const file of files) {
    try {
      const record = JSON.parse(await readFile(file, 'utf8')) as { stores?: Record<string, { owned?: unknown }> };
      const owned = record.stores?.[store]?.owned;
      if (Array.isArray(owned)) for (const p of owned) if (typeof p === 'number') (held ??= new Set()).add(p);
    } catch { /* absent or unreadable: this instance tells nothing */ }
  }
  return held;
}

/**
 * Reads a store of a stateDir, partitioned or not, without locking or
 * changing anything (see `inspectStore`). Of a partitioned store it merges
 * the partitions held here at the instances' last starts (or only
 * `partition`), in key order.
 */
export async function inspectPartitionedStore(stateDir: string, app: string, name: string,
  select: RangeOptions & { filter?: (key: string) => boolean; partition?: number } = {}): Promise<PartitionedInspection> {
  const dir = storeDir(stateDir, app, name);
  const local = await localPartitions(dir);
  if (local.length === 0 && select.partition === undefined) {
    const { entries, keys } = await inspectStore(dir, name, select);
    return { name, dir, partitions: undefined, stale: [], keys, entries };
  }
  const held = await heldPartitions(stateDir, app, name);
  const stale = held === undefined ? [] : local.filter((p) => !held.has(p));
  const read = select.partition !== undefined ? [select.partition] : local.filter((p) => !stale.includes(p));
  const partitions: NonNullable<PartitionedInspection['partitions']> = [];
  const entries: Array<StateEntry<unknown>> = [];
  let keys = 0;
  for (const partition of read) {
    const { entries: found, name: _name, ...rest } = await inspectStore(join(dir, partitionDirName(partition)), name, { ...select, limit: undefined });
    partitions.push({ partition, ...rest });
    keys += rest.keys;
    appendAll(entries, found);
  }
  entries.sort((a, b) => compareKeys(a.key, b.key));
  return { name, dir, partitions, stale, keys, entries: select.limit === undefined ? entries : entries.slice(0, select.limit) };
}
