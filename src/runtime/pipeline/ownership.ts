import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { WalrusError, serializeError } from '../../errors/index.js';
import type { Topology } from '../../topology/types.js';
import { ownedTopics, type InstanceAssignment } from '../sources/partitioned-reader.js';

/** What ownership needs from the client (WalrusClient fits). */
export interface ClaimClient {
  claim(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Renews only a claim that stayed `owner`'s (OWNERSHIP_CONFLICT with `context.lost` once another owner took it). */
  renewClaim(name: string, owner: string, ttlMs: number): Promise<boolean>;
  unclaim(name: string, owner: string): Promise<void>;
}

/** Options of {@link claimOwnership}. */
export interface OwnershipOptions {
  /** Time to live of each lease; renewed every third of it. @default 5000 */
  ttlMs?: number;
  /** `app` and instance, for the owner token others are told about. */
  label: string;
  /**
   * A name every instance of the app claims with the same owner token, the
   * fingerprint of its layout ({@link deploymentLayout}): an instance whose
   * layout differs is refused. Never released (it expires): a clean stop of
   * one instance must not let another layout in while the others run.
   */
  layout?: { name: string; token: string };
  logger?: Logger;
  /** Told once when the node cannot check ownership (a stock node). */
  onUnsupported(message: string): void;
  /** A renewal found another live owner: the pipeline must stop. */
  onLost(error: WalrusError): void;
  /** Waits (a seam for tests). @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  /** A monotonic clock in ms (a seam for tests). @default performance.now */
  now?: () => number;
}

/** Held leases; `release()` stops renewing and gives them up. */
export interface Ownership {
  readonly owner: string;
  readonly topics: readonly string[];
  /** False on a node without the extension: nothing is checked. */
  readonly checked: boolean;
  /**
   * Undefined while every lease is surely still this process's; otherwise a
   * promise that resolves once a renewal confirms them, or rejects with
   * OWNERSHIP_CONFLICT when one was lost. Every read and write of the
   * pipeline waits for it, so a process that was frozen (SIGSTOP, a long GC
   * pause, a suspended VM) past its leases writes nothing before it knows.
   */
  fence(): Promise<void> | undefined;
  release(): Promise<void>;
}

/** Default time to live of an ownership lease: a killed instance's partitions are free again this long after its last renewal. */
export const OWNERSHIP_TTL_MS = 5_000;

/** The partition topics this instance reads alone: the owned partitions of every partitioned source (repartition topics included). */
export function ownedPartitionTopics(topology: Topology, assignment: InstanceAssignment | undefined): string[] {
  return Object.values(topology.sources).filter((s) => s.partitions > 1).flatMap((s) => ownedTopics(s, assignment));
}

const LAYOUT_PREFIX = 'layout/';

/**
 * The name and owner token of an app's layout claim: a fingerprint of what
 * every instance must agree on — the instance count, the topic and
 * partitions of each source and sink, and each store's name, partitions and
 * changelog. Processors may differ (a rolling upgrade of their code splits
 * no partition).
 */
export function deploymentLayout(topology: Topology, assignment: InstanceAssignment | undefined): { name: string; token: string } {
  const sorted = (rows: string[]) => rows.sort().join(',');
  const layout = [
    `instances=${assignment?.instances ?? '-'}`,
    `sources=${sorted(Object.values(topology.sources).map((s) => `${s.topic}:${s.partitions}`))}`,
    `sinks=${sorted(Object.values(topology.sinks).map((s) => `${s.topic}:${s.partitions}`))}`,
    `stores=${sorted(Object.entries(topology.stores).map(([name, s]) => `${name}:${s.partitions}:${s.changelog}`))}`,
  ].join(';');
  return { name: `${topology.app}.layout`, token: `${LAYOUT_PREFIX}${createHash('sha256').update(layout).digest('hex').slice(0, 16)}` };
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
  const wanted: Array<[string, string]> = [...(options.layout ? [[options.layout.name, options.layout.token] as [string, string]] : []), ...topics.map((t): [string, string] => [t, owner])];
  const held: Array<[string, string]> = [];
  const giveUp = async () => { for (const [t, o] of held) if (o === owner) await client.unclaim(t, o).catch(() => undefined); };
  for (const [topic, as] of wanted) {
    let waited = false;
    for (;;) {
      try {
        if (!(await client.claim(topic, as, ttlMs))) {
          options.onUnsupported('the node does not offer ownership leases (a stock Walrus node): nothing stops two live instances from reading the same partitions; start each --instance index once (docs/scaling.md, "Ownership leases")');
          return { owner, topics: [], checked: false, fence: () => undefined, release: async () => undefined };
        }
        held.push([topic, as]);
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
        throw e.code === 'OWNERSHIP_CONFLICT' ? conflict(topic, as, e) : e;
      }
    }
  }
  return renewing(client, owner, held, ttlMs, options, giveUp);
}

/**
 * Renews `held` every third of `ttlMs` with `renewClaim`, and fences: a
 * lease counts as this process's only until 80% of its time to live after
 * the renewal was *sent* (the node's lease runs at least that long), on a
 * monotonic clock, so a process that was frozen past it finds out before
 * it writes anything.
 */
function renewing(client: ClaimClient, owner: string, held: Array<[string, string]>, ttlMs: number, options: OwnershipOptions, giveUp: () => Promise<void>): Ownership {
  const now = options.now ?? (() => performance.now());
  const safeMs = Math.floor(ttlMs * 0.8);
  const start = now();
  const validUntil = new Map(held.map(([t]) => [t, start + safeMs]));
  let lostError: WalrusError | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;
  let waiters: Array<{ resolve(): void; reject(e: WalrusError): void }> = [];
  const settle = () => {
    const list = waiters;
    waiters = [];
    for (const w of list) (lostError ? w.reject(lostError) : w.resolve());
  };
  const renewAll = async () => {
    for (const [topic, as] of held) {
      if (stopped) return;
      const sent = now();
      try {
        await client.renewClaim(topic, as, ttlMs);
        validUntil.set(topic, sent + safeMs);
      } catch (error) {
        const e = error as WalrusError;
        if (e.code === 'OWNERSHIP_CONFLICT') {
          stopped = true;
          lostError = conflict(topic, as, e, now() - (validUntil.get(topic)! - safeMs), ttlMs);
          settle();
          options.onLost(lostError);
          return;
        }
        options.logger?.warn({ topic, err: serializeError(error) }, 'ownership lease renewal failed; retrying');
      }
    }
  };
  const earliest = () => Math.min(...validUntil.values());
  const renew = (): Promise<void> => {
    round ??= renewAll().finally(() => {
      round = undefined;
      if (earliest() > now()) settle();
      if (!stopped) { clearTimeout(timer); timer = setTimeout(() => void renew(), Math.max(50, Math.floor(ttlMs / 3))); timer.unref?.(); }
    });
    return round;
  };
  timer = setTimeout(() => void renew(), Math.max(50, Math.floor(ttlMs / 3)));
  timer.unref?.();
  return {
    owner, topics: held.filter(([, o]) => o === owner).map(([t]) => t), checked: true,
    fence() {
      if (lostError) return Promise.reject(lostError);
      if (held.length === 0 || earliest() > now()) return undefined;
      if (stopped) return Promise.reject(new WalrusError('SHUTTING_DOWN', 'ownership leases released: nothing more is read or written'));
      void renew();
      return new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
    },
    async release() {
      stopped = true;
      clearTimeout(timer);
      await giveUp();
    },
  };
}

function conflict(topic: string, owner: string, cause: WalrusError, unrenewedMs?: number, ttlMs?: number): WalrusError {
  const holder = String(cause.context?.holder ?? 'another process');
  const context = { topic, holder, owner };
  if (owner.startsWith(LAYOUT_PREFIX) && !holder.startsWith(LAYOUT_PREFIX)) {
    return new WalrusError('OWNERSHIP_CONFLICT',
      `the name "${topic}", which every instance of this app claims to check that they share one layout, is held by ${holder}, which is not an instance of it: ` +
      'stop that client, or wait until its claim expires (docs/scaling.md, "Ownership leases")', { cause, context });
  }
  if (owner.startsWith(LAYOUT_PREFIX)) {
    // The claim outlives a clean stop by the holder's time to live (--lease-ttl), which may be longer than this one's wait.
    const left = Number(cause.context?.expiresInMs);
    const expiry = Number.isFinite(left) ? `: the claim expires in ${(left / 1000).toFixed(1)} s if none of them runs any more` : '';
    return new WalrusError('OWNERSHIP_CONFLICT',
      `another instance of this app runs a different layout, or stopped less than its lease's time to live ago (${holder}; this one is ${owner})${expiry}. ` +
      'Its --instances count, or the partitions of a source, sink or store, or a store\'s name or changelog, differ. ' +
      'Instances with different layouts would leave partitions unread or split a key\'s records and state between them: run every instance with the same topology and --instances, and stop all of them before changing either (docs/scaling.md, "Ownership leases")',
      { cause, context });
  }
  if (unrenewedMs === undefined) {
    return new WalrusError('OWNERSHIP_CONFLICT',
      `partition topic "${topic}" is owned by another live process (${holder}; this one is ${owner}): two instances claim the same partitions. ` +
      'Give each instance its own --instance index with the same --instances count; a killed instance\'s partitions are free again a few seconds after it died (docs/scaling.md, "Ownership leases")',
      { cause, context });
  }
  const lapse = unrenewedMs > ttlMs! ? `; this process had not renewed its lease for ${(unrenewedMs / 1000).toFixed(1)} s, longer than its ${(ttlMs! / 1000).toFixed(1)} s time to live: was it frozen, suspended or starved of CPU?` : '';
  return new WalrusError('OWNERSHIP_CONFLICT',
    `ownership of partition topic "${topic}" was lost to ${holder} (this one is ${owner})${lapse}. Another instance may have processed its partitions since, so this one stopped without writing anything more: ` +
    'what it had read but not finished stays in its journal, and on its next start its state partitions are restored from their changelogs first. Start it again once no other instance runs its --instance index (docs/scaling.md, "Ownership leases")',
    { cause, context: { ...context, lost: true } });
}
