import { createHash } from 'node:crypto';

/**
 * The id of output `index` of `processor` for input record `parentId`:
 * deterministic (a replay after a crash produces the same ids, so downstream
 * consumers can deduplicate) and in the codec's compact 16-byte form.
 */
export function deriveRecordId(parentId: string, processor: string, index: number): string {
  return createHash('sha256').update(`${parentId}\u0000${processor}\u0000${index}`).digest().subarray(0, 16).toString('base64url');
}
