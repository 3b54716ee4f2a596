import type { TopicLog } from './store/types.js';

/** Decides, entry by entry, whether one more fits a reply: `(payload length, position in the reply)`. */
export type Accept = (length: number, index: number) => boolean;

/** Open leases a single connection may hold at once; more is a client that never acknowledges. */
export const MAX_LEASES_PER_CONNECTION = 4096;

/**
 * Open leases the whole node holds at once, by default (`maxOpenLeases`, options.ts). Each costs about
 * 400 bytes however few entries it holds: bounded per connection only, 4,096 connections could hold
 * 16.7 million one-entry leases, about 7 GB.
 */
export const DEFAULT_MAX_OPEN_LEASES = 262_144;

/** A batch handed out by BATCH_LEASE and not yet acknowledged. */
interface Lease {
  readonly id: number;
  readonly topic: TopicLeases;
  readonly owner: object;
  /** Absolute entry indexes, ascending. */
  readonly indexes: number[];
  readonly expiresAt: number;
}

/** Per topic: its open leases and the released entries waiting to be delivered again. */
class TopicLeases {
  readonly log: TopicLog;
  readonly open = new Map<number, Lease>();
  /** Open leases by first index (a min-heap of [first index, lease id]; closed ones are dropped lazily). */
  #firsts: Array<[number, number]> = [];
  /**
   * Released entries (absolute indexes, ascending) from `head` on: delivered
   * again before any new entry. Taking from it moves `head` (the array is
   * compacted now and then), so a long queue costs nothing per read.
   */
  redeliver: number[] = [];
  head = 0;
  leasedEntries = 0;

  constructor(log: TopicLog) {
    this.log = log;
  }

  /** Entries waiting for redelivery. */
  get queued(): number {
    return this.redeliver.length - this.head;
  }

  /** The first `n` waiting entries were delivered again. */
  dropQueued(n: number): void {
    this.head += n;
    if (this.head === this.redeliver.length) { this.redeliver = []; this.head = 0; }
    else if (this.head >= 1024 && this.head * 2 >= this.redeliver.length) { this.redeliver = this.redeliver.slice(this.head); this.head = 0; }
  }

  /** Adds released entries (`indexes` ascending) to the queue, in order. */
  addReleased(indexes: readonly number[]): void {
    this.redeliver = mergeSorted(this.head === 0 ? this.redeliver : this.redeliver.slice(this.head), indexes);
    this.head = 0;
  }

  /**
   * Keeps the persisted cursor at the oldest entry still owed to someone
   * (leased or waiting for redelivery). Everything below the read position
   * that is not owed has been consumed, so that is exactly how far a
   * restart may skip.
   */
  updateHold(floor = Number.POSITIVE_INFINITY): void {
    let min = this.queued > 0 ? Math.min(this.redeliver[this.head]!, floor) : floor;
    const first = this.#oldestOpen();
    if (first !== undefined && first < min) min = first;
    this.log.holdCursor(min === Number.POSITIVE_INFINITY ? undefined : min);
  }

  /** A lease was opened on this topic. */
  opened(lease: Lease): void {
    heapPush(this.#firsts, [lease.indexes[0]!, lease.id]);
    // Closed leases wait in the heap until they reach its top: rebuild when they outnumber the open ones.
    if (this.#firsts.length > 2 * this.open.size + 64) {
      this.#firsts = [];
      for (const l of this.open.values()) heapPush(this.#firsts, [l.indexes[0]!, l.id]);
    }
  }

  /** The first index of the oldest open lease (was a scan of every open lease on every operation). */
  #oldestOpen(): number | undefined {
    while (this.#firsts.length > 0 && !this.open.has(this.#firsts[0]![1])) heapPop(this.#firsts);
    return this.#firsts[0]?.[0];
  }

}

/** Lease figures of one topic, for STATE. */
export interface TopicLeaseState {
  openLeases: number;
  leasedEntries: number;
  redeliverEntries: number;
}

/**
 * The BATCH_LEASE / ACK extension's bookkeeping (docs/broker.md, "Leases").
 *
 * A leased entry has left the read position (other readers skip it) but is
 * not consumed: the persisted cursor stays at or below it (`holdCursor`).
 * ACK consumes it. When the connection that holds a lease closes, or the
 * lease times out, its entries join the topic's redelivery queue, which
 * every reader (GET, BATCH_GET, BATCH_LEASE) drains before taking new
 * entries. Everything here is synchronous and in memory: only the held
 * cursor reaches the disk, through the store's group commit.
 */
export class LeaseBook {
  readonly #topics = new Map<TopicLog, TopicLeases>();
  readonly #byOwner = new Map<object, Set<Lease>>();
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #maxOpen: number;
  #nextId = 1;
  #openLeases = 0;
  #leasedEntries = 0;

  /** `timeoutMs` 0 = leases last as long as their connection; `maxOpen`: open leases on the node at most. */
  constructor(timeoutMs: number, now: () => number = Date.now, maxOpen = DEFAULT_MAX_OPEN_LEASES) {
    this.#timeoutMs = timeoutMs;
    this.#now = now;
    this.#maxOpen = maxOpen;
  }

  get maxOpenLeases(): number {
    return this.#maxOpen;
  }

  /** The id the next lease will get (its digits count against the reply frame). */
  get nextId(): number {
    return this.#nextId;
  }

  get openLeases(): number {
    return this.#openLeases;
  }

  get leasedEntries(): number {
    return this.#leasedEntries;
  }

  /** Entries for GET / BATCH_GET: taken and consumed at once (redelivered ones first). */
  consume(log: TopicLog, maxEntries: number, accept: Accept): Buffer[] {
    const topic = this.#topics.get(log);
    if (!topic) return log.readBatch(maxEntries, accept);
    this.#expire(topic);
    const { entries, fromQueue } = this.#take(topic, maxEntries, accept);
    if (fromQueue > 0) topic.updateHold();
    return entries;
  }

  /** One GET: the next entry, redelivered ones first. */
  consumeOne(log: TopicLog): Buffer | undefined {
    const topic = this.#topics.get(log);
    if (!topic || (topic.queued === 0 && this.#timeoutMs === 0)) return log.read();
    return this.consume(log, 1, () => true)[0];
  }

  /** BATCH_LEASE: entries handed to `owner` until it acknowledges them or goes away. */
  lease(log: TopicLog, owner: object, maxEntries: number, accept: Accept): { id: number; entries: Buffer[] } | 'too-many' | 'node-full' | undefined {
    const owned = this.#byOwner.get(owner);
    if ((owned && owned.size >= MAX_LEASES_PER_CONNECTION) || this.#openLeases >= this.#maxOpen) {
      // Leases past their timeout still count until released (lazily): release them before refusing.
      if (this.#timeoutMs > 0) for (const topic of this.#topics.values()) this.#expire(topic);
      if (owned && owned.size >= MAX_LEASES_PER_CONNECTION) return 'too-many';
      if (this.#openLeases >= this.#maxOpen) return 'node-full';
    }
    let topic = this.#topics.get(log);
    if (!topic) this.#topics.set(log, (topic = new TopicLeases(log)));
    this.#expire(topic);
    // Hold before reading: the memory store drops entries the cursor has passed unless they are held.
    topic.updateHold(log.readPosition);
    const { entries, indexes } = this.#take(topic, maxEntries, accept);
    if (entries.length === 0) {
      topic.updateHold();
      return undefined;
    }
    const lease: Lease = {
      id: this.#nextId++,
      topic,
      owner,
      indexes,
      expiresAt: this.#timeoutMs > 0 ? this.#now() + this.#timeoutMs : Number.POSITIVE_INFINITY,
    };
    topic.open.set(lease.id, lease);
    topic.opened(lease);
    topic.leasedEntries += indexes.length;
    this.#leasedEntries += indexes.length;
    this.#openLeases++;
    if (owned) owned.add(lease);
    else this.#byOwner.set(owner, new Set([lease]));
    topic.updateHold();
    return { id: lease.id, entries };
  }

  /** ACK: consumes the lease's entries. False when `owner` holds no such lease on this topic. */
  ack(log: TopicLog, owner: object, id: number): boolean {
    const topic = this.#topics.get(log);
    const lease = topic?.open.get(id);
    if (!topic || !lease || lease.owner !== owner) return false;
    this.#close(lease);
    topic.updateHold();
    return true;
  }

  /** The connection is gone: every lease it held is released for redelivery. */
  releaseOwner(owner: object): void {
    const owned = this.#byOwner.get(owner);
    if (!owned) return;
    // All of a connection's leases join each topic's queue in one merge (one per lease was quadratic).
    const released = new Map<TopicLeases, number[]>();
    for (const lease of [...owned]) {
      this.#close(lease);
      const list = released.get(lease.topic);
      if (list) { for (const i of lease.indexes) list.push(i); } else released.set(lease.topic, [...lease.indexes]);
    }
    this.#byOwner.delete(owner);
    for (const [topic, indexes] of released) {
      topic.addReleased(indexes.sort((a, b) => a - b));
      topic.updateHold();
    }
  }

  /**
   * RELEASE: every open lease on the topic, whoever holds it, is released for
   * redelivery now, as if its connection had closed; returns how many
   * entries. The new owner of a partition calls it before restoring from the
   * partition's changelog: a former owner frozen mid-restore (SIGSTOP, a
   * suspended VM) keeps its connection, and so its leases, open, which would
   * hide the entries it had leased from the restore. Its late ACKs then get
   * `ERR unknown lease`.
   */
  releaseTopic(log: TopicLog): number {
    const topic = this.#topics.get(log);
    if (!topic || topic.open.size === 0) return 0;
    const indexes: number[] = [];
    for (const lease of [...topic.open.values()]) {
      this.#close(lease);
      for (const i of lease.indexes) indexes.push(i);
    }
    topic.addReleased(indexes.sort((a, b) => a - b));
    topic.updateHold();
    return indexes.length;
  }

  /** STATE figures (after applying any due timeout); undefined for a topic never leased from. */
  stateOf(log: TopicLog): TopicLeaseState | undefined {
    const topic = this.#topics.get(log);
    if (!topic) return undefined;
    this.#expire(topic);
    return { openLeases: topic.open.size, leasedEntries: topic.leasedEntries, redeliverEntries: topic.queued };
  }

  /** Redelivered entries first (oldest first), then new ones from the read position. */
  #take(topic: TopicLeases, maxEntries: number, accept: Accept): { entries: Buffer[]; indexes: number[]; fromQueue: number } {
    const entries: Buffer[] = [];
    const indexes: number[] = [];
    const queue = topic.redeliver;
    const head = topic.head;
    let fromQueue = 0;
    while (head + fromQueue < queue.length && entries.length < maxEntries) {
      const entry = topic.log.readAt(queue[head + fromQueue]!);
      if (!accept(entry.length, entries.length)) return this.#finishTake(topic, entries, indexes, fromQueue);
      entries.push(entry);
      indexes.push(queue[head + fromQueue]!);
      fromQueue++;
    }
    if (entries.length < maxEntries) {
      const offset = entries.length;
      const first = topic.log.readPosition;
      const fresh = topic.log.readBatch(maxEntries - offset, (length, i) => accept(length, i + offset));
      for (let i = 0; i < fresh.length; i++) {
        entries.push(fresh[i]!);
        indexes.push(first + i);
      }
    }
    return this.#finishTake(topic, entries, indexes, fromQueue);
  }

  #finishTake(topic: TopicLeases, entries: Buffer[], indexes: number[], fromQueue: number): { entries: Buffer[]; indexes: number[]; fromQueue: number } {
    if (fromQueue > 0) topic.dropQueued(fromQueue);
    return { entries, indexes, fromQueue };
  }

  /**
   * Releases leases past their timeout. Lazy (on the topic's next read or STATE), so no timer runs.
   * Leases are kept in the order they were handed out, which is the order they expire in (one timeout
   * for all): the scan stops at the first live one instead of visiting every open lease on every read.
   */
  #expire(topic: TopicLeases): void {
    if (this.#timeoutMs === 0 || topic.open.size === 0) return;
    const now = this.#now();
    let expired = false;
    for (const lease of topic.open.values()) {
      if (lease.expiresAt > now) break;
      this.#release(lease); // deleting the visited entry keeps the Map's iteration valid
      expired = true;
    }
    if (expired) topic.updateHold();
  }

  #release(lease: Lease): void {
    this.#close(lease);
    lease.topic.addReleased(lease.indexes);
  }

  #close(lease: Lease): void {
    const topic = lease.topic;
    topic.open.delete(lease.id);
    topic.leasedEntries -= lease.indexes.length;
    this.#leasedEntries -= lease.indexes.length;
    this.#openLeases--;
    const owned = this.#byOwner.get(lease.owner);
    if (owned) {
      owned.delete(lease);
      if (owned.size === 0) this.#byOwner.delete(lease.owner);
    }
  }
}

function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  if (a.length === 0) return b.slice();
  const out = new Array<number>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i]! <= b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}

function heapPush(heap: Array<[number, number]>, item: [number, number]): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]![0] <= item[0]) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = item;
}

function heapPop(heap: Array<[number, number]>): void {
  const last = heap.pop()!;
  if (heap.length === 0) return;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= heap.length) break;
    const c = l + 1 < heap.length && heap[l + 1]![0] < heap[l]![0] ? l + 1 : l;
    if (heap[c]![0] >= last[0]) break;
    heap[i] = heap[c]!;
    i = c;
  }
  heap[i] = last;
}
