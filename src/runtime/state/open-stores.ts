import type { Logger } from 'pino';
import pLimit from 'p-limit';
import { partitionTopic, partitionTopics } from '../../codec/partitioning.js';
import { WalrusError, serializeError } from '../../errors/index.js';
import { KeyValueStore } from '../../state/index.js';
import { PartitionedStore } from '../../state/store/partitioned-store.js';
import { partitionStoreDir } from '../../state/store/paths.js';
import type { Topology } from '../../topology/types.js';
import type { InstanceAssignment } from '../sources/partitioned-reader.js';
import { checkUnfinished, discardPartition, ownershipFile, planOwnership, readOwnership, recordOf, writeOwnership, type StorePlan } from './partition-ownership.js';

/** What the state wiring needs from the Walrus client. */
export interface StateClient {
  register(topic: string): Promise<void>;
  putMany(topic: string, entries: string[]): Promise<void>;
  getMany(topic: string, maxEntries: number): Promise<Buffer[]>;
  /** Leased reads (the node consumes a batch only on `ack()`): restore uses them when present. */
  lease?(topic: string, maxEntries: number): Promise<{ entries: Buffer[]; leased?: boolean; ack(): Promise<void> }>;
  /** Releases every lease open on the topic, whoever holds it (RELEASE; undefined on a node without it): done before a restore. */
  releaseLeases?(topic: string): Promise<number | undefined>;
  /**
   * The topic's STATE; its `lag` sizes restore progress, `totalEntries` tells an emptied changelog from a new one,
   * `openLeases` lets a restore check that the leases it held were not lost.
   */
  state?(topic: string): Promise<{ lag?: number; totalEntries?: number; openLeases?: number }>;
  /** Ownership leases (CLAIM; false on a node without them): the last owner of each partition's changelog is kept there (`markPartitions`). */
  claim?(name: string, owner: string, ttlMs: number): Promise<boolean>;
  renewClaim?(name: string, owner: string, ttlMs: number): Promise<boolean>;
}

/** Start-up options of {@link openStores} (and `RuntimeState.open`). */
export interface RestoreHooks {
  /** Told after each restored batch: entries read so far, and the changelog's size when the node reports it. */
  onProgress?(store: string, read: number, total: number | undefined): void;
  /** Aborting stops a restore between batches (it resumes on the next start: restore.json). */
  signal?: AbortSignal;
  /**
   * This instance's index and count (`run --instances`): it opens only the
   * partitions `p % instances === instance` of each partitioned store.
   * @default none (every partition)
   */
  assignment?: InstanceAssignment;
  /** The instance id its journal is named by; its ownership record lives next to it. @default none */
  instance?: string;
  /** The journal's identity (KeyValueStoreOptions.journal). @default none (no journal) */
  journal?: string;
  /** Entries of partitioned sources a previous run left unfinished in the journal: refused under another layout (`checkUnfinished`). @default 0 */
  unfinished?: number;
}

/**
 * Opens every store a processor uses, partition by partition: for each store
 * the partitions this instance owns, each a `KeyValueStore` in its own
 * directory publishing to its own changelog topic. A partition this instance
 * did not hold at its last start is taken over: its stale local copy is
 * discarded, the new ownership recorded, and the partition restored from its
 * changelog — before any record is processed. The order (discard, record,
 * restore) makes a crash anywhere safe: an interrupted restore is resumed
 * (restore.json), never discarded again, since the record already says the
 * partition is held here.
 */
export async function openStores(topology: Topology, client: StateClient, logger: Logger | undefined, hooks: RestoreHooks): Promise<Map<string, PartitionedStore>> {
  const used = [...new Set(Object.values(topology.processors).flatMap((p) => p.stores))];
  const file = ownershipFile(topology, hooks.instance);
  const previous = await readOwnership(file);
  checkUnfinished(previous, hooks.assignment, hooks.unfinished ?? 0, file);
  const plans = await planOwnership(topology, used, hooks.assignment, previous);
  const marked = await markPartitions(topology, client, plans, hooks, logger);
  for (const plan of plans) {
    for (const p of plan.takeover) {
      await discardPartition(topology, plan, p);
      if (previous !== undefined) {
        logger?.info({ store: plan.name, partition: p, was: { instance: previous.instance, instances: previous.instances } },
          'state partition taken over: restoring it from its changelog');
      }
    }
  }
  // After the discards: a partition is marked as this stateDir's only once its stale copy is gone.
  await marked.claimTakeovers();
  if (plans.some((plan) => plan.partitions > 1)) await writeOwnership(file, recordOf(plans, hooks.assignment));

  // At most OPEN_AT_ONCE registrations and opens at a time: each waits on the node and the disk (a changelog's
  // registration, directories and fsyncs, the restore's first fetch), so one after the other 1,000 stores took
  // 20 s to open; a bound keeps files, connections and restores in flight few.
  const limit = pLimit(OPEN_AT_ONCE);
  let failed = false;
  const guarded = <T>(fn: () => Promise<T>) => limit(() => {
    if (failed) return Promise.reject(SKIPPED);
    return fn().catch((error: unknown) => { failed = true; throw error; });
  });
  // Every partition's changelog exists from the first start on: a later start can then tell a partition count that grew (partition-check.ts).
  const topics = plans.flatMap((plan) => partitionTopics(topology.stores[plan.name]!.changelog, plan.partitions));
  await settleAll(topics.map((topic) => guarded(() => client.register(topic))), () => undefined);
  const opening = plans.map((plan) => plan.owned.map((p) => guarded(() => openPartition(topology, client, logger, hooks, plan, p))));
  const parts = await settleAll(opening.flat(), (store) => store.close());
  const stores = new Map<string, PartitionedStore>();
  let k = 0;
  for (const plan of plans) {
    const owned = new Map<number, KeyValueStore>();
    for (const p of plan.owned) owned.set(p, parts[k++]!);
    stores.set(plan.name, new PartitionedStore(plan.name, plan.partitions, owned));
  }
  return stores;
}

/**
 * Where the node keeps ownership leases (the embedded node), the last owner
 * of each partition of a partitioned store is kept there too: a claim on the
 * partition's changelog topic name by this stateDir (its journal identity),
 * taken when it takes the partition over and renewed (`CLAIM ... renew`) at
 * every start that still holds it. A renewal the node refuses because
 * another stateDir claimed it since says the partition ran elsewhere while
 * this one did not hold it — a scale-down and back up that kept this
 * stateDir (a StatefulSet's volume), or a replacement on another machine —
 * so its local copy is stale: it is taken over (discarded, restored from
 * its changelog) like a partition not held. Before, that copy was used and
 * everything counted elsewhere meanwhile was lost. A node that forgot its
 * leases (a restart), a stock node and a run without a journal keep the
 * record's word, as before.
 */
async function markPartitions(topology: Topology, client: StateClient, plans: StorePlan[], hooks: RestoreHooks, logger: Logger | undefined): Promise<{ claimTakeovers(): Promise<void> }> {
  const { claim, renewClaim } = client;
  if (hooks.journal === undefined || !claim || !renewClaim) return { claimTakeovers: async () => undefined };
  const owner = `${topology.app}/${hooks.instance ?? '-'}`.replace(/[^A-Za-z0-9._:/-]/g, '_').slice(0, 160) + `/${hooks.journal}`;
  const name = (plan: StorePlan, p: number) => partitionTopic(topology.stores[plan.name]!.changelog, p, plan.partitions);
  for (const plan of plans.filter((x) => x.partitions > 1)) {
    for (const p of plan.owned.filter((q) => !plan.takeover.includes(q))) {
      try {
        await renewClaim.call(client, name(plan, p), owner, MARK_TTL_MS);
      } catch (error) {
        if (!(error instanceof WalrusError && error.code === 'OWNERSHIP_CONFLICT')) throw error;
        logger?.warn({ store: plan.name, partition: p, holder: error.context?.holder },
          'state partition held here at the last start ran elsewhere since (another stateDir claimed it): its local copy is stale, restoring it from its changelog');
        plan.takeover = [...plan.takeover, p].sort((x, y) => x - y);
      }
    }
  }
  return {
    async claimTakeovers() {
      for (const plan of plans.filter((x) => x.partitions > 1)) {
        for (const p of plan.takeover) {
          for (let tries = 1; ; tries += 1) {
            try {
              await claim.call(client, name(plan, p), owner, MARK_TTL_MS);
              break;
            } catch (error) {
              // The previous owner's mark lives MARK_TTL_MS after its last start: wait it out.
              if (!(error instanceof WalrusError && error.code === 'OWNERSHIP_CONFLICT') || tries >= 3) throw error;
              await new Promise((r) => setTimeout(r, Number(error.context?.expiresInMs ?? MARK_TTL_MS) + 50));
            }
          }
        }
      }
    },
  };
}

/** Time to live of a partition's owner mark: only its last owner matters (the node keeps it expired), so it is short. */
const MARK_TTL_MS = 100;

/** Most changelog registrations, and most store partitions opening (and restoring), at once. */
export const OPEN_AT_ONCE = 16;

/** What a registration or open not started yet rejects with once another failed. */
const SKIPPED = Symbol('skipped: another store failed to open');

/**
 * Waits for every one of `pending` to settle; if any failed, `undo` runs on
 * each that succeeded (errors ignored) and the first real failure (by
 * position; those not started after it only say SKIPPED) is thrown.
 */
async function settleAll<T>(pending: Array<Promise<T>>, undo: (value: T) => Promise<unknown> | undefined): Promise<T[]> {
  const settled = await Promise.allSettled(pending);
  const failures = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  if (failures.length === 0) return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
  for (const r of settled) if (r.status === 'fulfilled') await Promise.resolve(undo(r.value)).catch(() => undefined);
  throw failures.find((e) => e !== SKIPPED);
}

async function openPartition(topology: Topology, client: StateClient, logger: Logger | undefined, hooks: RestoreHooks, plan: StorePlan, p: number): Promise<KeyValueStore> {
  const { name, partitions } = plan;
  const spec = topology.stores[name]!;
  const topic = partitionTopic(spec.changelog, p, partitions);
  const label = partitions > 1 ? `${name} partition ${p}` : name;
  const store = await KeyValueStore.open({
    dir: partitionStoreDir(topology.stateDir, topology.app, name, p, partitions), name, fsync: spec.fsync, snapshotEveryBytes: spec.snapshotEvery,
    ...(partitions > 1 ? { partition: p } : {}), ...(hooks.journal === undefined ? {} : { journal: hooks.journal }),
    changelog: {
      publish: (entries) => client.putMany(topic, entries),
      onPublishError: (error, attempt) => logger?.warn({ err: serializeError(error), store: name, partition: p, topic, attempt }, 'changelog publish failed; retrying (commits wait)'),
    },
  });
  try {
    if (store.seq === 0 || store.restoreIncomplete) {
      // Leases where the node has them: a batch is consumed only once durable in the store, so a kill -9 mid-restore loses nothing.
      const max = Math.min(spec.restoreBatch, 2_000);
      const topicState = await client.state?.(topic).catch(() => undefined);
      // A changelog nothing was ever written to (the node says so): nothing to restore, and none of a restore's
      // fsyncs (its marker, a snapshot, the marker's removal) for a store that starts empty anyway.
      if (!store.restoreIncomplete && topicState?.totalEntries === 0 && (topicState.lag ?? 0) === 0) return store;
      // A former owner frozen mid-restore (SIGSTOP, a suspended VM) past its ownership lease keeps its connection open, and with
      // it the leases on this changelog it had not acknowledged (a restore acknowledges only once it has re-published): released
      // here, they are read again, so its restore's entries are not lost (state/changelog/restore.ts).
      const released = client.releaseLeases ? await client.releaseLeases(topic) : undefined;
      if (released) {
        logger?.warn({ store: name, ...(partitions > 1 ? { partition: p } : {}), topic, entries: released },
          'changelog entries leased by another connection (a former owner frozen or cut off mid-restore) were released to this restore');
      }
      const total = topicState === undefined || topicState.lag === undefined ? undefined : topicState.lag + (released ?? 0);
      const fetch = () => {
        if (hooks.signal?.aborted) throw new WalrusError('SHUTTING_DOWN', `restore of store "${label}" stopped by shutdown; it resumes on the next start`, { context: { store: name } });
        return client.lease ? client.lease(topic, max) : client.getMany(topic, max);
      };
      const openLeases = client.state ? async () => (await client.state!(topic)).openLeases : undefined;
      const report = await store.restoreFromChangelog(fetch, (read) => hooks.onProgress?.(label, read, total), topic, openLeases);
      const fields = { store: name, ...(partitions > 1 ? { partition: p } : {}), topic, ...report };
      // Skipped entries were consumed from the topic too: say so where an operator looks (someone else writes to this topic).
      if (report.skipped > 0) logger?.warn(fields, `state store restored from its changelog; ${report.skipped} entries were not this store's and were skipped (and consumed)`);
      else if (report.entries > 0) logger?.info(fields, 'state store restored from its changelog');
      else if ((topicState?.totalEntries ?? 0) > 0) {
        // Nothing here and nothing to restore, yet the changelog was written to: its entries were consumed (a read of the topic, an
        // earlier restore whose state was then lost). Only the node knows; without this the store would restart from zero silently.
        logger?.warn({ store: name, ...(partitions > 1 ? { partition: p } : {}), topic, written: topicState!.totalEntries },
          `state store "${label}" has no local state and its changelog topic ${topic} is empty, though ${topicState!.totalEntries} entries were written to it: ` +
          'they were consumed, so the store starts EMPTY. If its state matters, stop now and put back the store\'s directory (docs/state.md, "Changelog topic and restore")');
      }
    }
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}
