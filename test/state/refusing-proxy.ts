import net from 'node:net';
import { FrameDecoder, encodeFrame } from '../../src/protocol/frame.js';

/** Decides a request's fate: an `ERR` message to answer instead of the node, or undefined to forward it. */
export type Refusal = (command: string, topic: string) => string | undefined;

/**
 * A frame-aware proxy in front of a node that can make the node refuse
 * commands: a request `refuse` picks is answered `ERR <message>` (as a node
 * that lost a topic, or runs an older protocol, would answer), everything
 * else is forwarded. Replies keep request order per connection, so the
 * pipelined client sees exactly what a node sending those replies would
 * produce. Tests point the client at `address`.
 */
export class RefusingProxy {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  refuse: Refusal | undefined;
  /** Requests answered with a refusal so far. */
  refused = 0;

  private constructor(server: net.Server) {
    this.#server = server;
  }

  static async start(target: { host: string; port: number }): Promise<RefusingProxy> {
    const server = net.createServer();
    const proxy = new RefusingProxy(server);
    server.on('connection', (socket) => proxy.#accept(socket, target));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get address(): string {
    return `127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`;
  }

  #accept(client: net.Socket, target: { host: string; port: number }): void {
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
    client.setNoDelay(true);
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => { this.#sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
    // Per request in order: a refusal to send as soon as everything before it went out, or null (forwarded, reply pending).
    const pending: Array<Buffer | null> = [];
    const flush = () => {
      while (pending.length > 0 && pending[0] !== null) client.write(pending.shift()!);
    };
    const fromClient = new FrameDecoder(16 * 1024 * 1024);
    client.on('data', (chunk: Buffer) => {
      fromClient.push(chunk);
      for (let unit = fromClient.next(); unit; unit = fromClient.next()) {
        if (unit.kind !== 'frame') { client.destroy(); return; }
        const text = Buffer.from(unit.body.subarray(0, 300)).toString('latin1');
        const [command = '', topic = ''] = text.split(' ', 2);
        const message = this.refuse?.(command, topic);
        if (message === undefined) {
          upstream.write(encodeFrame(unit.body));
          pending.push(null);
        } else {
          this.refused += 1;
          pending.push(encodeFrame(`ERR ${message}`));
        }
      }
      flush();
    });
    const fromNode = new FrameDecoder(16 * 1024 * 1024);
    upstream.on('data', (chunk: Buffer) => {
      fromNode.push(chunk);
      for (let unit = fromNode.next(); unit; unit = fromNode.next()) {
        if (unit.kind !== 'frame') { client.destroy(); return; }
        const at = pending.indexOf(null);
        pending[at] = encodeFrame(unit.body);
      }
      flush();
    });
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
