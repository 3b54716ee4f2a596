import net from 'node:net';

/**
 * What the proxy does with traffic, switchable at runtime:
 * - `pass`: forward both ways.
 * - `delay`: forward both ways after `ms` (order kept).
 * - `blackhole`: accept connections, forward nothing in either direction.
 * - `drop`: reset every open connection now and every new one on arrival.
 * - `cut`: forward `afterBytes` more bytes of replies (node → client), then
 *   destroy the connection — a reply cut mid-frame. Requests still reach
 *   the node, so it has run them.
 * - `fragment`: forward both ways in pieces of 1..`maxBytes` bytes, each
 *   written on its own turn of the event loop, so frames arrive split at
 *   every possible place.
 */
export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'delay'; ms: number }
  | { kind: 'blackhole' }
  | { kind: 'drop' }
  | { kind: 'cut'; afterBytes: number }
  | { kind: 'fragment'; maxBytes: number };

/** Chunks held back in one direction, oldest first, each with the time it may go. */
interface Lane {
  to: net.Socket;
  queue: Array<{ due: number; chunk: Buffer }>;
  timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  /** Reply bytes still allowed through in `cut` mode. */
  budget: number | undefined;
  toUpstream: Lane;
  toClient: Lane;
}

/**
 * A TCP proxy on 127.0.0.1, port 0, between a client and a node, that
 * injects faults. Tests point the client at `proxy.address`.
 */
export class FaultProxy {
  readonly #server: net.Server;
  readonly #target: { host: string; port: number };
  readonly #pairs = new Set<Pair>();
  #mode: FaultMode = { kind: 'pass' };
  /** Connections accepted since start. */
  accepted = 0;

  private constructor(server: net.Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
  }

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const server = net.createServer();
    const proxy = new FaultProxy(server, target);
    server.on('connection', (socket) => proxy.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Open client connections. */
  get connections(): number {
    return this.#pairs.size;
  }

  get mode(): FaultMode {
    return this.#mode;
  }

  setMode(mode: FaultMode): void {
    this.#mode = mode;
    if (mode.kind === 'drop') this.resetAll();
    if (mode.kind === 'cut') for (const pair of this.#pairs) pair.budget = mode.afterBytes;
  }

  /** Resets (RST) every open connection, whatever the mode. */
  resetAll(): void {
    for (const pair of this.#pairs) this.#kill(pair, true);
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    this.accepted++;
    if (this.#mode.kind === 'drop') {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ ...this.#target, noDelay: true });
    client.setNoDelay(true);
    const lane = (to: net.Socket): Lane => ({ to, queue: [], timer: undefined });
    const pair: Pair = { client, upstream, budget: this.#mode.kind === 'cut' ? this.#mode.afterBytes : undefined, toUpstream: lane(upstream), toClient: lane(client) };
    this.#pairs.add(pair);
    client.on('error', () => this.#kill(pair, false));
    upstream.on('error', () => this.#kill(pair, true));
    client.on('close', () => this.#kill(pair, false));
    upstream.on('close', () => this.#kill(pair, false));
    client.on('data', (chunk: Buffer) => this.#forward(pair, chunk, pair.toUpstream, false));
    upstream.on('data', (chunk: Buffer) => this.#forward(pair, chunk, pair.toClient, true));
  }

  #forward(pair: Pair, chunk: Buffer, lane: Lane, isReply: boolean): void {
    const mode = this.#mode;
    const to = lane.to;
    switch (mode.kind) {
      case 'pass':
        // Bytes still held back by an earlier delay go first: never reorder a stream.
        if (lane.queue.length > 0) this.#hold(lane, chunk, 0);
        else to.write(chunk);
        return;
      case 'delay':
        this.#hold(lane, chunk, mode.ms);
        return;
      case 'blackhole':
        return;
      case 'fragment':
        for (let at = 0; at < chunk.length;) {
          const size = 1 + Math.floor(Math.random() * mode.maxBytes);
          lane.queue.push({ due: 0, chunk: chunk.subarray(at, at + size) });
          at += size;
        }
        if (lane.timer === undefined) this.#drain(lane);
        return;
      case 'drop':
        this.#kill(pair, true);
        return;
      case 'cut': {
        if (!isReply) {
          to.write(chunk);
          return;
        }
        const budget = pair.budget ?? mode.afterBytes;
        if (chunk.length < budget) {
          pair.budget = budget - chunk.length;
          to.write(chunk);
          return;
        }
        to.write(chunk.subarray(0, budget), () => this.#kill(pair, false));
        pair.budget = 0;
        return;
      }
    }
  }

  #hold(lane: Lane, chunk: Buffer, ms: number): void {
    lane.queue.push({ due: performance.now() + ms, chunk });
    if (lane.timer === undefined) this.#drain(lane);
  }

  #drain(lane: Lane): void {
    lane.timer = undefined;
    const now = performance.now();
    const onePerTurn = this.#mode.kind === 'fragment';
    while (lane.queue.length > 0 && lane.queue[0]!.due <= now) {
      const { chunk } = lane.queue.shift()!;
      if (!lane.to.destroyed) lane.to.write(chunk);
      if (onePerTurn) break;
    }
    if (lane.queue.length === 0) return;
    const wait = lane.queue[0]!.due - now;
    lane.timer = wait <= 0 ? setImmediate(() => this.#drain(lane)) : setTimeout(() => this.#drain(lane), wait);
  }

  #kill(pair: Pair, reset: boolean): void {
    if (!this.#pairs.delete(pair)) return;
    for (const lane of [pair.toUpstream, pair.toClient]) {
      if (lane.timer) {
        clearTimeout(lane.timer as NodeJS.Timeout);
        clearImmediate(lane.timer as NodeJS.Immediate);
      }
      lane.queue.length = 0;
    }
    if (reset && !pair.client.destroyed) pair.client.resetAndDestroy();
    else pair.client.destroy();
    pair.upstream.destroy();
  }
}
