import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../src/protocol/frame.js';

/**
 * The leanest possible client for throughput measurements: it keeps up to
 * `window` requests in flight on one connection, refilling the window with
 * one socket write per batch of replies, and checks each reply with a
 * caller-supplied predicate (so a benchmark cannot "pass" on errors).
 */
export class RawBenchClient {
  readonly #socket: Socket;
  readonly #decoder = new FrameDecoder(1 << 20);
  #onReply: (body: Buffer) => void = () => undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (let unit = this.#decoder.next(); unit; unit = this.#decoder.next()) {
        if (unit.kind === 'frame') this.#onReply(unit.body);
      }
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawBenchClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, noDelay: true }, () => resolve(new RawBenchClient(socket)));
      socket.once('error', reject);
    });
  }

  /**
   * Sends `total` requests built by `frame(i)`, at most `window` in flight.
   * Resolves with the elapsed milliseconds; rejects on the first reply
   * `check` refuses.
   */
  run(total: number, window: number, frame: (i: number) => Buffer, check: (reply: Buffer, i: number) => boolean): Promise<number> {
    return new Promise((resolve, reject) => {
      let sent = 0;
      let done = 0;
      const started = process.hrtime.bigint();
      const fill = (): void => {
        const n = Math.min(window - (sent - done), total - sent);
        if (n <= 0) return;
        const frames = new Array<Buffer>(n);
        for (let k = 0; k < n; k++) frames[k] = frame(sent++);
        this.#socket.write(n === 1 ? frames[0]! : Buffer.concat(frames));
      };
      this.#onReply = (body) => {
        if (!check(body, done)) {
          reject(new Error(`unexpected reply #${done}: ${body.toString('utf8', 0, 120)}`));
          this.#onReply = () => undefined;
          return;
        }
        done++;
        if (done === total) {
          resolve(Number(process.hrtime.bigint() - started) / 1e6);
          return;
        }
        // Refill once per reply batch; data events deliver many replies at once.
        if (sent - done <= window / 2 || window === 1) queueMicrotask(fill);
      };
      fill();
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}
