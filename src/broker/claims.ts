import { CLAIM_OWNER_RULE, MAX_CLAIM_TTL_MS, MIN_CLAIM_TTL_MS, isClaimOwner } from '../protocol/claims.js';
import { OK_FRAME, errFrame } from './replies.js';

/**
 * The ownership-lease extension, CLAIM / UNCLAIM (default mode only;
 * docs/broker.md, "Ownership leases"). A `walrus-stream run` instance claims
 * every partition topic it reads and renews the claims well within their
 * time to live; a second live process claiming one of them is refused
 * (it exits, naming the holder), and the claims of a killed process expire
 * after their TTL so that its restart can take them again.
 *
 * Claims are not bound to a connection (a client renews over whichever
 * pooled connection is free) and are not persisted: after a node restart
 * the holders take them again on their next renewal.
 */

/** Most names held at once on one node: a bound on memory a client can make it keep. */
export const MAX_CLAIMS = 100_000;

interface Claim { owner: string; expiresAt: number }

export class ClaimBook {
  readonly #claims = new Map<string, Claim>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get size(): number {
    return this.#claims.size;
  }

  /**
   * `CLAIM <name> <owner> <ttl_ms>` → `OK` when `name` was free, expired or
   * already `owner`'s (renewed for `ttl_ms`); `ERR claimed by <holder> for
   * <n> ms more` otherwise.
   *
   * `CLAIM <name> <owner> <ttl_ms> renew` renews only a claim that stayed
   * `owner`'s: once another owner took the name — even if that owner has
   * since released it or let it expire — it answers `ERR claim lost to
   * <holder>`. A holder that was frozen past its TTL learns this way that
   * its partitions may have been processed elsewhere. A name the node does
   * not know (it restarted) is claimed afresh.
   */
  claim(name: string, rest: Buffer | undefined): Buffer {
    const args = parseArgs('CLAIM', rest, true);
    if (Buffer.isBuffer(args)) return args;
    const now = this.#now();
    const held = this.#claims.get(name);
    if (args.renew && held !== undefined && held.owner !== args.owner) return errFrame(`claim lost to ${held.owner}`);
    if (held !== undefined && held.owner !== args.owner && held.expiresAt > now) {
      return errFrame(`claimed by ${held.owner} for ${held.expiresAt - now} ms more`);
    }
    if (held === undefined && this.#claims.size >= MAX_CLAIMS) {
      this.#sweep(now);
      if (this.#claims.size >= MAX_CLAIMS) return errFrame(`too many claims (${MAX_CLAIMS}) on this node`);
    }
    this.#claims.set(name, { owner: args.owner, expiresAt: now + args.ttlMs! });
    return OK_FRAME;
  }

  /** `UNCLAIM <name> <owner>` → `OK` (released, or not held by anyone); `ERR claimed by <holder> ...` when another holds it. */
  unclaim(name: string, rest: Buffer | undefined): Buffer {
    const args = parseArgs('UNCLAIM', rest, false);
    if (Buffer.isBuffer(args)) return args;
    const now = this.#now();
    const held = this.#claims.get(name);
    if (held !== undefined && held.owner !== args.owner && held.expiresAt > now) {
      return errFrame(`claimed by ${held.owner} for ${held.expiresAt - now} ms more`);
    }
    // Kept, expired, as a trace of who held it last: a frozen former holder's `renew` then learns it lost it.
    if (held !== undefined) held.expiresAt = now;
    return OK_FRAME;
  }

  #sweep(now: number): void {
    for (const [name, claim] of this.#claims) if (claim.expiresAt <= now) this.#claims.delete(name);
  }
}

function parseArgs(op: string, rest: Buffer | undefined, withTtl: boolean): { owner: string; ttlMs?: number; renew?: boolean } | Buffer {
  const usage = withTtl ? `${op} <name> <owner> <ttl_ms> [renew]` : `${op} <name> <owner>`;
  if (rest === undefined) return errFrame(`${op} requires an owner: ${usage}`);
  const parts = rest.toString('utf8').split(' ');
  const renew = withTtl && parts.length === 3 && parts[2] === 'renew';
  if (parts.length !== (withTtl ? 2 : 1) && !renew) return errFrame(`invalid ${op}: expected ${usage}`);
  const owner = parts[0]!;
  if (!isClaimOwner(owner)) return errFrame(`invalid ${op} owner ${JSON.stringify(owner.slice(0, 40))}: ${CLAIM_OWNER_RULE}`);
  if (!withTtl) return { owner };
  const text = parts[1]!;
  const ttlMs = /^[1-9][0-9]{0,8}$/.test(text) ? Number(text) : Number.NaN;
  if (!(ttlMs >= MIN_CLAIM_TTL_MS && ttlMs <= MAX_CLAIM_TTL_MS)) {
    return errFrame(`invalid ${op} ttl ${JSON.stringify(text.slice(0, 20))}: milliseconds from ${MIN_CLAIM_TTL_MS} to ${MAX_CLAIM_TTL_MS}`);
  }
  return { owner, ttlMs, renew };
}
