import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ownedPartitions } from '../../codec/partitioning.js';
import { WalrusError } from '../../errors/index.js';
import { partitionOfDirName, partitionStoreDir, STORE_FILES, storeDir } from '../../state/store/paths.js';
import { fsyncDir } from '../../state/store/snapshot-file.js';
import type { Topology } from '../../topology/types.js';
import type { InstanceAssignment } from '../sources/partitioned-reader.js';
import { acquirePidLock } from '../../util/pid-lock.js';

/**
 * Which partitions of each store an instance held at its last start, kept in
 * its stateDir (docs/scaling.md, "Stateful topologies"). A partition the
 * instance owns now but did not hold then may have been changed elsewhere
 * since (another instance owned it: first start, a new machine,
 * `--instances` changed): its local copy, if any, is stale, so it is
 * discarded and the partition restored from its changelog.
 */
export interface OwnershipRecord {
  version: 1;
  /** The instance index and count of that start (null: no `--instances`, every partition owned). */
  instance: number | null;
  instances: number | null;
  stores: Record<string, { partitions: number; owned: number[] }>;
}

/** What one start holds of a store, and what it must take over. */
export interface StorePlan {
  name: string;
  partitions: number;
  /** The partitions this instance owns, ascending. */
  owned: number[];
  /** Owned partitions not held here at the last start: discarded locally, restored from their changelogs. */
  takeover: number[];
}

/**
 * `<stateDir>/<app>/instances/<id>/partitions.json` for an instance with an
 * id (`--instance`, or the index of `--instances`), else
 * `<stateDir>/<app>/partitions.json`: each instance sharing a stateDir keeps
 * its own record, next to its journal.
 */
export function ownershipFile(topology: Topology, instanceId: string | undefined): string {
  return instanceId === undefined
    ? join(topology.stateDir, topology.app, 'partitions.json')
    : join(topology.stateDir, topology.app, 'instances', instanceId, 'partitions.json');
}

export async function readOwnership(file: string): Promise<OwnershipRecord | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as OwnershipRecord;
    if (parsed.version === 1 && typeof parsed.stores === 'object' && parsed.stores !== null) return parsed;
  } catch { /* torn: below */ }
  // Written atomically, so only a hand edit gets here: holding nothing makes every partition restore, which is safe.
  return undefined;
}

/** Writes the record atomically (temp, rename, fsync of the directory). */
export async function writeOwnership(file: string, record: OwnershipRecord): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${JSON.stringify(record)}\n`, { flush: true });
  await rename(tmp, file);
  await fsyncDir(dirname(file));
}

/**
 * Records that the instance holds no partition any more: it lost its
 * ownership leases (frozen past them, say), so another instance may have
 * changed its partitions since. Its next start discards its local copies
 * and restores every partition it owns from its changelog.
 */
export async function forgetHeldPartitions(topology: Topology, instanceId: string | undefined): Promise<void> {
  const file = ownershipFile(topology, instanceId);
  const record = await readOwnership(file);
  if (record === undefined) return;
  for (const store of Object.values(record.stores)) store.owned = [];
  await writeOwnership(file, record);
}

/**
 * Refuses (PARTITION_MISMATCH) a start under another instance index or
 * count than the last one while the journal still holds `unfinished`
 * entries of partitioned sources read then (a `kill -9`, or a stop during
 * start-up, before they were finished). They belong to partitions this
 * layout may give to other instances: their records would be dead-lettered
 * (a store partition not owned here) or, sent again through a repartition
 * topic to a reader that never saw them, applied to state a second time.
 */
export function checkUnfinished(previous: OwnershipRecord | undefined, assignment: InstanceAssignment | undefined, unfinished: number, file: string): void {
  if (previous === undefined || unfinished === 0) return;
  const now = { instance: assignment?.instance ?? null, instances: assignment?.instances ?? null };
  // One instance owns every partition, with `--instances 1` or without it.
  const layout = (a: { instance: number | null; instances: number | null }) => (a.instances === null || a.instances === 1 ? 'all' : `${a.instance}/${a.instances}`);
  if (layout(previous) === layout(now)) return;
  const as = (a: { instance: number | null; instances: number | null }) => (a.instances === null ? 'without --instances' : `as instance ${a.instance} of ${a.instances}`);
  const flags = previous.instances === null ? '' : ` --instances ${previous.instances} --instance ${previous.instance}`;
  throw new WalrusError('PARTITION_MISMATCH',
    `this instance's journal holds ${unfinished} unfinished entr${unfinished === 1 ? 'y' : 'ies'} of partitioned sources, read when it last ran ${as(previous)} (${file}); ` +
    `it now starts ${as(now)}, a layout in which their partitions, or the repartition partitions their records go to, have other owners: their records would be dead-lettered, or applied to state a second time by a reader that never saw them. ` +
    `Finish them under the old layout first: run it again with${flags} --until-idle, let the other instances of that layout finish too, then start the new one (docs/scaling.md, "Stateful topologies")`,
    { context: { file, unfinished, was: { instance: previous.instance, instances: previous.instances }, now } });
}

/**
 * The plan of a start: for each store, the partitions owned and those to
 * take over. Refuses (PARTITION_MISMATCH) a store whose local files or last
 * record say it was partitioned differently: keys would then live in other
 * partitions than their state.
 */
export async function planOwnership(topology: Topology, stores: readonly string[], assignment: InstanceAssignment | undefined,
  previous: OwnershipRecord | undefined): Promise<StorePlan[]> {
  const plans: StorePlan[] = [];
  for (const name of stores) {
    const partitions = topology.stores[name]!.partitions;
    await checkLocalLayout(topology, name, partitions, previous);
    const owned = assignment === undefined ? Array.from({ length: partitions }, (_, p) => p) : ownedPartitions(partitions, assignment.instance, assignment.instances);
    const held = new Set(previous?.stores[name]?.partitions === partitions ? previous.stores[name]!.owned : []);
    // An unpartitioned store is the instance's own as before partitions existed (only one instance may run it).
    const takeover = partitions === 1 ? [] : owned.filter((p) => !held.has(p));
    plans.push({ name, partitions, owned, takeover });
  }
  return plans;
}

/**
 * Removes the local copy of a partition taken over (it is stale, or absent):
 * the store then opens empty and restores. Under the partition's lock, so a
 * live process still holding it (an instance of the old deployment sharing
 * this stateDir) makes the start fail instead of losing its files.
 */
export async function discardPartition(topology: Topology, plan: StorePlan, partition: number): Promise<void> {
  const dir = partitionStoreDir(topology.stateDir, topology.app, plan.name, partition, plan.partitions);
  if (!existsSync(dir)) return;
  const lock = acquirePidLock(dir, {
    code: 'STATE_STORE_ERROR', subject: `partition ${partition} of store "${plan.name}"`, context: { store: plan.name, partition },
    hint: 'another instance still runs it: stop every instance of the old deployment before starting one with a new --instances',
    hereHint: 'open it once',
  });
  try {
    await rm(dir, { recursive: true, force: true });
  } finally {
    lock.release();
  }
}

export function recordOf(plans: readonly StorePlan[], assignment: InstanceAssignment | undefined): OwnershipRecord {
  const stores: OwnershipRecord['stores'] = {};
  for (const plan of plans) stores[plan.name] = { partitions: plan.partitions, owned: plan.owned };
  return { version: 1, instance: assignment?.instance ?? null, instances: assignment?.instances ?? null, stores };
}

async function checkLocalLayout(topology: Topology, name: string, partitions: number, previous: OwnershipRecord | undefined): Promise<void> {
  const dir = storeDir(topology.stateDir, topology.app, name);
  const fix = `changing a store's partitions moves its keys to other partitions than their state: go back to partitions: %OLD%, or give the step a new store (a new name, so a new directory and changelog)`;
  const was = previous?.stores[name]?.partitions;
  if (was !== undefined && was !== partitions) {
    throw mismatch(name, `this instance last ran store "${name}" in ${was} partition(s) (${dirname(dir)}), the topology now says partitions: ${partitions}; ${fix.replace('%OLD%', String(was))}`);
  }
  if (!existsSync(dir)) return;
  const entries = await readdir(dir);
  const flat = entries.some((e) => e === STORE_FILES.log || e === STORE_FILES.snapshot);
  const split = entries.filter((e) => partitionOfDirName(e) !== undefined);
  if (partitions > 1 && flat) {
    throw mismatch(name, `${dir} holds the state of store "${name}" unpartitioned, the topology now says partitions: ${partitions}; ${fix.replace('%OLD%', '1')}`);
  }
  if (partitions === 1 && split.length > 0) {
    throw mismatch(name, `${dir} holds store "${name}" in partitions (${split.sort().join(', ')}), the topology now says it is unpartitioned; ${fix.replace('%OLD%', 'n')}`);
  }
  const beyond = split.map((e) => partitionOfDirName(e)!).filter((p) => p >= partitions);
  if (partitions > 1 && beyond.length > 0) {
    throw mismatch(name, `${dir} holds partition ${Math.max(...beyond)} of store "${name}", the topology now says partitions: ${partitions}; ${fix.replace('%OLD%', `${Math.max(...beyond) + 1} or more`)}`);
  }
}

function mismatch(store: string, message: string): WalrusError {
  return new WalrusError('PARTITION_MISMATCH', message, { context: { store } });
}
