/**
 * What CLAIM / UNCLAIM accept (docs/broker.md, "Ownership leases"), shared
 * by the node that checks them and the client that checks them before
 * sending.
 */

/** Owner tokens: what `run` sends (`<app>/<instance>/<random>`), within one frame field. */
export const CLAIM_OWNER_PATTERN = /^[A-Za-z0-9._:/-]{1,200}$/;
/** {@link CLAIM_OWNER_PATTERN} in words, for error messages. */
export const CLAIM_OWNER_RULE = '1-200 characters A-Z a-z 0-9 . _ : / -';
/** Shortest and longest time to live a claim may ask for. */
export const MIN_CLAIM_TTL_MS = 100;
export const MAX_CLAIM_TTL_MS = 10 * 60_000;

export function isClaimOwner(owner: unknown): boolean {
  return typeof owner === 'string' && CLAIM_OWNER_PATTERN.test(owner);
}

export function isClaimTtl(ttlMs: unknown): boolean {
  return Number.isInteger(ttlMs) && (ttlMs as number) >= MIN_CLAIM_TTL_MS && (ttlMs as number) <= MAX_CLAIM_TTL_MS;
}
