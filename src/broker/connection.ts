import type { Socket } from 'node:net';
import { FrameDecoder } from '../protocol/frame.js';
import type { CompatMode } from './options.js';
import { ERR_INVALID_FRAME_LENGTH } from './replies.js';
import { currentTurn } from './turn-clock.js';

/** What a connection needs from the node that owns it. */
export interface ConnectionHost {
  readonly compat: CompatMode;
  /** Reply bytes not yet taken by the client (queued + in the socket) at which execution and reading stop. */
  readonly maxUnsentReplyBytes: number;
  /**
   * Executes one request body from `connection` and returns its reply frame;
   * a Promise (a password check) holds the connection's later requests
   * until it settles, so replies stay in order. It must never reject.
   */
  execute(body: Buffer, connection: BrokerConnection): Buffer | Promise<Buffer>;
  /** The storage change counter a reply made now depends on. */
  changeSeq(): number;
  /** Asks for a group commit; `release` is called once replies are durable. */
  schedule(connection: BrokerConnection): void;
  /** Called once when the socket is gone. */
  connectionClosed(connection: BrokerConnection): void;
}

/** Above this many replies waiting for a group commit, stop. */
const PENDING_HIGH_WATER = 16_384;
/** Above this many received bytes not yet decoded (two maximum frames), stop reading from the socket. */
const INPUT_HIGH_WATER = 128 * 1024;
/** Reply bytes one connection may produce per event-loop turn (less when `maxUnsentReplyBytes` is smaller). */
const TURN_SHARE_BYTES = 64 * 1024;

/**
 * One client connection. Requests are executed in arrival order as soon as
 * they are decoded; their replies wait in `#frames` until the storage
 * changes they depend on are durable (`release`), and leave in order,
 * batched into one socket write per group commit.
 *
 * Memory stays bounded against a client that never reads and against reply
 * amplification (a 64 KiB read of 9-byte `GET`s could ask for gigabytes of
 * replies): execution stops mid-chunk once the connection's unsent reply
 * bytes (queued for a group commit plus buffered in the socket) reach
 * `maxUnsentReplyBytes`, reading pauses so the kernel's receive window
 * pushes back on that client, and both resume once it has read half.
 */
export class BrokerConnection {
  readonly #socket: Socket;
  readonly #host: ConnectionHost;
  readonly #decoder = new FrameDecoder();
  #frames: Buffer[] = [];
  #seqs: number[] = [];
  #replyBytes = 0;
  /** Default mode: after an invalid frame length, answer it and close; read nothing more. */
  #poisoned = false;
  #peerEnded = false;
  #paused = false;
  /** Execution stopped on a high-water mark or the turn share: complete frames may still wait in the decoder. */
  #stalled = false;
  /** A reply is being computed asynchronously (AUTH): execute nothing more until it is in. */
  #awaiting = false;
  /** Reply bytes made during event-loop turn `#turn`, against this connection's share per turn. */
  #turn = -1;
  #turnBytes = 0;
  #resumeQueued = false;
  readonly #turnShare: number;
  #gone = false;
  /** The client's address (without the port): logins waiting for a check take turns by it. */
  readonly remoteAddress: string;

  constructor(socket: Socket, host: ConnectionHost) {
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.#host = host;
    this.#turnShare = Math.min(TURN_SHARE_BYTES, host.maxUnsentReplyBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.#poisoned) return;
      this.#decoder.push(chunk);
      if (this.#decoder.pendingBytes > INPUT_HIGH_WATER) this.#pause();
      this.#process();
    });
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

  /** True once the socket is closed. */
  get gone(): boolean {
    return this.#gone;
  }

  get pendingReplies(): number {
    return this.#frames.length;
  }

  /** Reply bytes made and not yet taken by the client: queued for a group commit, or buffered in the socket. */
  get unsentBytes(): number {
    return this.#gone ? 0 : this.#replyBytes + this.#socket.writableLength;
  }

  /** Executes decoded requests until the decoder needs more bytes or replies back up. */
  #process(): void {
    if (this.#gone || this.#awaiting) return;
    const decoder = this.#decoder;
    const host = this.#host;
    const turn = currentTurn();
    if (turn !== this.#turn) {
      this.#turn = turn;
      this.#turnBytes = 0;
    }
    let executed = false;
    while (!this.#poisoned) {
      if (this.unsentBytes >= host.maxUnsentReplyBytes || this.#frames.length >= PENDING_HIGH_WATER) {
        this.#stalled = true;
        this.#pause();
        break;
      }
      if (this.#turnBytes >= this.#turnShare) {
        // This connection had its share of the turn: the rest waits for the next one.
        this.#stalled = true;
        this.#pause();
        this.#resumeNextTurn();
        break;
      }
      const unit = decoder.next();
      if (unit === undefined) {
        this.#stalled = false;
        break;
      }
      executed = true;
      let reply: Buffer;
      if (unit.kind === 'frame') {
        const out = host.execute(unit.body, this);
        if (out instanceof Promise) {
          this.#await(out);
          break;
        }
        reply = out;
      } else {
        reply = ERR_INVALID_FRAME_LENGTH;
        // For an oversize length the stock node reads the body as new frames,
        // which desynchronises the stream; in default mode we answer and
        // close instead. Length 0 has no body, so the stream stays in sync.
        if (unit.length > 0 && host.compat !== 'stock') {
          this.#poisoned = true;
          // Nothing after it is executed: no longer stalled, or a stall earlier in a pipeline kept it open for good.
          this.#stalled = false;
          this.#socket.pause();
        }
      }
      this.#frames.push(reply);
      this.#seqs.push(host.changeSeq());
      this.#replyBytes += reply.length;
      this.#turnBytes += reply.length;
    }
    if (executed) host.schedule(this);
    else this.#maybeEnd();
    // Reading paused only for input backpressure and the decoder needs more bytes: read again.
    if (!this.#stalled) this.#maybeResume();
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
      this.#replyBytes -= out.length;
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

  /** Holds execution (and reading) until `reply` is in, then queues it like any reply and carries on. */
  #await(reply: Promise<Buffer>): void {
    this.#awaiting = true;
    this.#stalled = true;
    this.#pause();
    void reply.then((frame) => {
      this.#awaiting = false;
      if (this.#gone) return;
      this.#frames.push(frame);
      this.#seqs.push(this.#host.changeSeq());
      this.#replyBytes += frame.length;
      this.#host.schedule(this);
      this.#maybeResume();
      this.#process();
    });
  }

  #maybeResume(): void {
    if (!this.#paused || this.#poisoned || this.#gone || this.#awaiting) return;
    if (this.unsentBytes > this.#host.maxUnsentReplyBytes / 2 || this.#frames.length > PENDING_HIGH_WATER / 2) return;
    if (this.#turnBytes >= this.#turnShare && this.#turn === currentTurn()) {
      // Out of this turn's share: try again in the next turn.
      this.#resumeNextTurn();
      return;
    }
    this.#paused = false;
    this.#socket.resume();
    // Not inline: this may run inside the group commit's release loop.
    if (this.#stalled) setImmediate(() => this.#process());
  }

  #resumeNextTurn(): void {
    if (this.#resumeQueued) return;
    this.#resumeQueued = true;
    setImmediate(() => {
      this.#resumeQueued = false;
      this.#maybeResume();
    });
  }

  #maybeEnd(): void {
    if (this.#frames.length > 0 || this.#stalled || this.#gone) return;
    // Poisoned: we will never read again, so close both directions once the reply is out.
    if (this.#poisoned) this.#socket.destroySoon();
    else if (this.#peerEnded) this.#socket.end();
  }
}
