import type { Socket } from 'node:net';
import { FrameReader } from './frame-reader.js';
import type { CompatMode } from './options.js';
import { ERR_INVALID_FRAME_LENGTH } from './replies.js';

/** What a connection needs from the node that owns it. */
export interface ConnectionHost {
  readonly compat: CompatMode;
  /** Executes one request body and returns its reply frame. */
  execute(body: Buffer): Buffer;
  /** The storage change counter a reply made now depends on. */
  changeSeq(): number;
  /** Asks for a group commit; `release` is called once replies are durable. */
  schedule(connection: BrokerConnection): void;
  /** Called once when the socket is gone. */
  connectionClosed(connection: BrokerConnection): void;
}

/** Above this many bytes waiting in the socket, stop reading requests until it drains. */
const WRITE_HIGH_WATER = 1 << 20;
/** Above this many replies waiting for a group commit, stop reading requests. */
const PENDING_HIGH_WATER = 16_384;

/**
 * One client connection. Requests are executed in arrival order as soon as
 * they are decoded; their replies wait in `#pending` until the storage
 * changes they depend on are durable (`release`), and leave in order,
 * batched into one socket write per group commit.
 *
 * Memory stays bounded against a client that never reads: when the socket's
 * write buffer or the pending queue grows past a limit, reading pauses, so
 * the kernel's receive window pushes back on the client.
 */
export class BrokerConnection {
  readonly #socket: Socket;
  readonly #host: ConnectionHost;
  readonly #decoder = new FrameReader();
  #frames: Buffer[] = [];
  #seqs: number[] = [];
  /** Default mode: after an invalid frame length, answer it and close; read nothing more. */
  #poisoned = false;
  #peerEnded = false;
  #paused = false;
  #gone = false;

  constructor(socket: Socket, host: ConnectionHost) {
    this.#socket = socket;
    this.#host = host;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    // The peer half-closed: answer everything already received, then close.
    socket.on('end', () => {
      this.#peerEnded = true;
      this.#maybeEnd();
    });
    socket.on('drain', () => this.#maybeResume());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.#gone = true;
      this.#frames = [];
      this.#seqs = [];
      host.connectionClosed(this);
    });
  }

  get pendingReplies(): number {
    return this.#frames.length;
  }

  #onData(chunk: Buffer): void {
    if (this.#poisoned) return;
    const decoder = this.#decoder;
    decoder.push(chunk);
    const host = this.#host;
    for (let unit = decoder.next(); unit !== undefined; unit = decoder.next()) {
      if (unit.kind === 'frame') {
        this.#frames.push(host.execute(unit.body));
      } else {
        this.#frames.push(ERR_INVALID_FRAME_LENGTH);
        // For an oversize length the stock node reads the body as new frames,
        // which desynchronises the stream; in default mode we answer and
        // close instead. Length 0 has no body, so the stream stays in sync.
        if (unit.length > 0 && host.compat !== 'stock') {
          this.#poisoned = true;
          this.#seqs.push(host.changeSeq());
          this.#socket.pause();
          break;
        }
      }
      this.#seqs.push(host.changeSeq());
    }
    host.schedule(this);
    if (this.#frames.length > PENDING_HIGH_WATER || this.#socket.writableLength > WRITE_HIGH_WATER) this.#pause();
  }

  /** Sends, in order, every pending reply whose changes are durable (seq ≤ durableSeq). Returns true when none is left. */
  release(durableSeq: number): boolean {
    if (this.#gone) return true;
    const seqs = this.#seqs;
    let n = 0;
    while (n < seqs.length && seqs[n]! <= durableSeq) n++;
    if (n > 0) {
      const out = n === 1 ? this.#frames[0]! : Buffer.concat(this.#frames.slice(0, n));
      if (n === seqs.length) {
        this.#frames = [];
        this.#seqs = [];
      } else {
        this.#frames.splice(0, n);
        seqs.splice(0, n);
      }
      if (!this.#socket.write(out)) this.#pause();
    }
    const done = this.#frames.length === 0;
    if (done) this.#maybeEnd();
    this.#maybeResume();
    return done;
  }

  /** Ends the connection once pending replies are written (shutdown). */
  end(): void {
    if (this.#gone) return;
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #pause(): void {
    if (!this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #maybeResume(): void {
    if (!this.#paused || this.#poisoned || this.#gone) return;
    if (this.#frames.length > PENDING_HIGH_WATER / 2 || this.#socket.writableLength > WRITE_HIGH_WATER / 2) return;
    this.#paused = false;
    this.#socket.resume();
  }

  #maybeEnd(): void {
    if (this.#frames.length > 0 || this.#gone) return;
    // Poisoned: we will never read again, so close both directions once the reply is out.
    if (this.#poisoned) this.#socket.destroySoon();
    else if (this.#peerEnded) this.#socket.end();
  }
}
