/**
 * Consistent hashing with virtual nodes: each node owns `virtualNodes`
 * points on a 32-bit ring, and a key belongs to the first point at or after
 * its hash. Adding or removing a node moves only ~1/n of the keys, and the
 * order of distinct nodes after a key's point is its failover order.
 */
export class HashRing<N> {
  readonly #points: Uint32Array;
  readonly #owners: N[];
  readonly #distinct: number;

  constructor(nodes: ReadonlyArray<{ id: string; node: N }>, virtualNodes = 160) {
    const points: Array<{ hash: number; node: N }> = [];
    for (const { id, node } of nodes) {
      for (let v = 0; v < virtualNodes; v++) points.push({ hash: hash32(`${id}#${v}`), node });
    }
    points.sort((a, b) => a.hash - b.hash);
    this.#points = Uint32Array.from(points, (p) => p.hash);
    this.#owners = points.map((p) => p.node);
    this.#distinct = nodes.length;
  }

  /** The node that owns `key`. */
  lookup(key: string): N | undefined {
    return this.#owners.length === 0 ? undefined : this.#owners[this.#indexOf(hash32(key))];
  }

  /** Every node in the order `key` fails over to them: owner first, then the next distinct nodes clockwise. */
  preference(key: string): N[] {
    const out: N[] = [];
    if (this.#owners.length === 0) return out;
    const start = this.#indexOf(hash32(key));
    for (let i = 0; i < this.#owners.length && out.length < this.#distinct; i++) {
      const node = this.#owners[(start + i) % this.#owners.length]!;
      if (!out.includes(node)) out.push(node);
    }
    return out;
  }

  #indexOf(hash: number): number {
    let lo = 0;
    let hi = this.#points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.#points.length ? 0 : lo;
  }
}

/**
 * FNV-1a over UTF-16 code units, finished with murmur3's fmix32 avalanche:
 * FNV alone clusters short, similar keys (`orders-1`, `orders-2`), which
 * skews a ring; the finaliser spreads them.
 */
export function hash32(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
