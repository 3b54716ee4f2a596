import { WalrusError } from '../errors/index.js';

/**
 * Partitioned topics, as every writer and reader must agree on them
 * (docs/scaling.md). Walrus has no partitions, so a logical topic with
 * `n > 1` partitions is `n` plain Walrus topics named `<topic>.p<i>`; with
 * `n = 1` it is the topic itself, unchanged. This module is the one place the
 * naming and the key hash live, so the client, the CLI and the runtime (both
 * threads) route alike, and other languages can reproduce it from the docs.
 */

/** Most partitions a logical topic may have: each is a topic, a cursor and a poll loop. */
export const MAX_PARTITIONS = 1024;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const utf8 = new TextEncoder();

/**
 * 32-bit FNV-1a of the key's UTF-8 bytes, as an unsigned integer. Chosen
 * because it is a few lines in any language and needs no seed or table.
 */
export function keyHash(key: string): number {
  let hash = FNV_OFFSET;
  for (const byte of utf8.encode(key)) hash = Math.imul(hash ^ byte, FNV_PRIME);
  return hash >>> 0;
}

/** The partition (0..n-1) a record with this key belongs to: `fnv1a32(utf8(key)) % n`. */
export function partitionOfKey(key: string, partitions: number): number {
  return partitions <= 1 ? 0 : keyHash(key) % partitions;
}

/** The Walrus topic of partition `index` of a logical topic with `partitions` partitions. */
export function partitionTopic(topic: string, index: number, partitions: number): string {
  return partitions <= 1 ? topic : `${topic}.p${index}`;
}

/** Every Walrus topic of a logical topic, partition 0 first. */
export function partitionTopics(topic: string, partitions: number): string[] {
  return Array.from({ length: Math.max(1, partitions) }, (_, i) => partitionTopic(topic, i, partitions));
}

/** The partitions instance `instance` of `instances` owns: those with `p % instances === instance`. */
export function ownedPartitions(partitions: number, instance: number, instances: number): number[] {
  const owned: number[] = [];
  for (let p = 0; p < Math.max(1, partitions); p += 1) if (p % instances === instance) owned.push(p);
  return owned;
}

/** Throws CONFIG_INVALID unless `n` is a whole number of partitions in range. */
export function assertPartitions(n: unknown, what = 'partitions'): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_PARTITIONS) {
    throw new WalrusError('CONFIG_INVALID', `${what} must be a whole number from 1 to ${MAX_PARTITIONS}, got ${String(n)}.`);
  }
}

/**
 * Picks the partition of each record written to one logical topic: by key
 * hash when the record has a key, else round-robin (so keyless records
 * spread evenly; their order across partitions is not kept, as it is not
 * for keyless records anywhere else in walrus-stream).
 */
export class PartitionRouter {
  readonly partitions: number;
  #next = 0;

  constructor(partitions: number) {
    assertPartitions(partitions);
    this.partitions = partitions;
  }

  /** The partition of the next record with `key` (or without one). */
  route(key: string | undefined): number {
    if (this.partitions === 1) return 0;
    if (key !== undefined) return partitionOfKey(key, this.partitions);
    const p = this.#next;
    this.#next = (this.#next + 1) % this.partitions;
    return p;
  }
}
