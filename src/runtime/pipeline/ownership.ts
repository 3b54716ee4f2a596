import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { WalrusError, serializeError } from '../../errors/index.js';
import type { Topology } from '../../topology/types.js';
import { ownedTopics, type InstanceAssignment } from '../sources/partitioned-reader.js';

/** What ownership needs from the client (WalrusClient fits). */
export interface ClaimClient {
  claim(name: string, owner: string, ttlMs: number): Promise<boolean>;
  unclaim(name: string, owner: string): Promise<void>;
}

/** Options of {@link claimOwnership}. */
export interface OwnershipOptions {
  /** Time to live of each lease; renewed every third of it. @default 5000 */
  ttlMs?: number;
  /** `app` and instance, for the owner token others are told about. */
  label: string;
  logger?: Logger;
  /** Told once when the node cannot check ownership (a stock node). */
  onUnsupported(message: string): void;
  /** A renewal found another live owner: the pipeline must stop. */
  onLost(error: WalrusError): void;
  /** Waits (a seam for tests). @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
}

/** Held leases; `release()` stops renewing and gives them up. */
export interface Ownership {
  readonly owner: string;
  readonly topics: readonly string[];
  /** False on a node without the extension: nothing is checked. */
  readonly checked: boolean;
  release(): Promise<void>;
}

/** Default time to live of an ownership lease: a killed instance's partitions are free again this long after its last renewal. */
export const OWNERSHIP_TTL_MS = 5_000;

/** The partition topics this instance reads alone: the owned partitions of every partitioned source (repartition topics included). */
export function ownedPartitionTopics(topology: Topology, assignment: InstanceAssignment | undefined): string[] {
  return Object.values(topology.sources).filter((s) => s.partitions > 1).flatMap((s) => ownedTopics(s, assignment));
}

/**
 * Takes an ownership lease (CLAIM, docs/scaling.md "Ownership leases") on
 * every partition topic in `topics` and renews them until `release()`.
 *
 * A lease held by someone else is waited for once, until it would expire:
 * the restart of a `kill -9`ed instance gets its partitions back as soon as
 * the dead process's leases run out, while a holder that is alive renews
 * meanwhile and this start fails with OWNERSHIP_CONFLICT, naming it.
 */
export async function claimOwnership(client: ClaimClient, topics: string[], options: OwnershipOptions): Promise<Ownership> {
  const ttlMs = options.ttlMs ?? OWNERSHIP_TTL_MS;
  const owner = `${options.label.replace(/[^A-Za-z0-9._:/-]/g, '_').slice(0, 180)}/${randomBytes(4).toString('hex')}`;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const held: string[] = [];
  const giveUp = async () => { for (const t of held) await client.unclaim(t, owner).catch(() => undefined); };
  for (const topic of topics) {
    let waited = false;
    for (;;) {
      try {
        if (!(await client.claim(topic, owner, ttlMs))) {
          options.onUnsupported('the node does not offer ownership leases (a stock Walrus node): nothing stops two live instances from reading the same partitions; start each --instance index once (docs/scaling.md, "Ownership leases")');
          return { owner, topics: [], checked: false, release: async () => undefined };
        }
        held.push(topic);
        break;
      } catch (error) {
        const e = error as WalrusError;
        const left = Number(e.context?.expiresInMs ?? Number.NaN);
        if (e.code === 'OWNERSHIP_CONFLICT' && !waited && left <= ttlMs + 1_000) {
          waited = true;
          options.logger?.warn({ topic, holder: e.context?.holder, ms: left }, 'partition held by another owner: waiting once for its lease to expire (a killed instance)');
          await sleep(left + 100);
          continue;
        }
        await giveUp();
        throw e.code === 'OWNERSHIP_CONFLICT' ? conflict(topic, owner, e) : e;
      }
    }
  }
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const renew = async () => {
    for (const topic of held) {
      if (stopped) return;
      try {
        await client.claim(topic, owner, ttlMs);
      } catch (error) {
        const e = error as WalrusError;
        if (e.code === 'OWNERSHIP_CONFLICT') { stopped = true; options.onLost(conflict(topic, owner, e)); return; }
        options.logger?.warn({ topic, err: serializeError(error) }, 'ownership lease renewal failed; retrying');
      }
    }
    if (!stopped) { timer = setTimeout(() => void renew(), Math.max(50, Math.floor(ttlMs / 3))); timer.unref?.(); }
  };
  timer = setTimeout(() => void renew(), Math.max(50, Math.floor(ttlMs / 3)));
  timer.unref?.();
  return {
    owner, topics: held, checked: true,
    async release() {
      stopped = true;
      clearTimeout(timer);
      await giveUp();
    },
  };
}

function conflict(topic: string, owner: string, cause: WalrusError): WalrusError {
  const holder = String(cause.context?.holder ?? 'another process');
  return new WalrusError('OWNERSHIP_CONFLICT',
    `partition topic "${topic}" is owned by another live process (${holder}; this one is ${owner}): two instances claim the same partitions. ` +
    'Give each instance its own --instance index with the same --instances count; a killed instance\'s partitions are free again a few seconds after it died (docs/scaling.md, "Ownership leases")',
    { cause, context: { topic, holder, owner } });
}
