import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../src/protocol/frame.js';
import { encodeBatchGet, parseBatchGet } from '../../src/protocol/index.js';

/**
 * A deliberately minimal raw-socket client for broker tests: sends bytes or
 * frames exactly as given (no validation, so tests can send what a real
 * client never would) and reads reply frames in order.
 */
export class RawClient {
  readonly socket: Socket;
  readonly #decoder = new FrameDecoder(16 * 1024 * 1024);
  readonly #frames: Buffer[] = [];
  #waiters: Array<() => void> = [];
  #closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (let unit = this.#decoder.next(); unit; unit = this.#decoder.next()) {
        if (unit.kind === 'frame') this.#frames.push(Buffer.from(unit.body));
      }
      this.#wake();
    });
    // The node closing its side (FIN) counts as closed even though our half stays open.
    socket.on('end', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, noDelay: true, allowHalfOpen: true });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes raw bytes. */
  writeRaw(bytes: Uint8Array | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
  }

  /** Writes one frame with a correct length prefix around `body`. */
  send(body: string | Uint8Array): void {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32LE(bytes.length, 0);
    this.socket.write(Buffer.concat([header, bytes]));
  }

  /** The next reply frame body, or undefined if the connection closed first. */
  async nextFrame(timeoutMs = 5000): Promise<Buffer | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.#frames.length === 0) {
      if (this.#closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.#frames.shift();
  }

  /** The next reply as a UTF-8 string (throws if the connection closed). */
  async next(timeoutMs?: number): Promise<string> {
    const frame = await this.nextFrame(timeoutMs);
    if (frame === undefined) throw new Error('connection closed before a reply');
    return frame.toString('utf8');
  }

  /** Sends one frame and returns its reply as a string. */
  async request(body: string | Uint8Array, timeoutMs?: number): Promise<string> {
    this.send(body);
    return this.next(timeoutMs);
  }

  /** Resolves when the server closes the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      if (Date.now() > deadline) throw new Error(`connection still open after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Half-closes (FIN) without destroying, so replies can still arrive. */
  endWrites(): void {
    this.socket.end();
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/** A 4-byte little-endian length header, whatever the length (oversize ones included). */
export function lengthHeader(length: number): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32LE(length, 0);
  return h;
}

/** `body` as one length-prefixed frame. */
export function rawFrame(body: string): Buffer {
  const b = Buffer.from(body);
  return Buffer.concat([lengthHeader(b.length), b]);
}

/** Every entry left on `topic`, read with BATCH_GET until an empty reply. */
export async function drain(c: RawClient, topic: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    c.writeRaw(encodeBatchGet(topic, 2000));
    const batch = parseBatchGet((await c.nextFrame())!);
    if (batch.length === 0) return out;
    out.push(...batch.map(String));
  }
}
