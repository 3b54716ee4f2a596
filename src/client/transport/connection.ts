import net from 'node:net';
import { WalrusError, type ErrorContext } from '../../errors/index.js';
import { FrameDecoder, MAX_FRAME_BYTES } from '../../protocol/index.js';
import { onAbort } from '../../util/abort.js';
import { abortError } from '../../util/sleep.js';
import { Fifo } from '../../util/fifo.js';
import { authenticate } from './auth.js';
import { callOptionsError } from './call-options.js';
import { closedBeforeSend, connectTimeout, inFlightFailure, socketError } from './network-errors.js';
import { Pending, sample, type ConnectionOptions, type ReplyParser, type RequestMeta } from './pending-request.js';
import { openSocket, tlsHandshakeError } from './tls.js';

export type { ConnectionOptions, ReplyParser, ReplySample, RequestMeta, SocketFactory } from './pending-request.js';

/**
 * One TCP connection to a node, pipelined: any number of requests may be in
 * flight and replies are matched to them in order, since a Walrus node
 * answers each connection strictly in order.
 *
 * Why retire rather than recover: once one request times out we no longer
 * know which reply is whose, so the connection is destroyed and every other
 * in-flight request fails with a retriable error. An aborted request is
 * different: its reply will still come, so its slot stays in the queue and
 * the reply is read and dropped.
 *
 * Timers: one per connection, armed for the earliest deadline, instead of a
 * setTimeout per request. Writes made in one tick are corked into one
 * syscall.
 */
export class Connection {
  readonly node: string;
  readonly #socket: net.Socket;
  readonly #options: ConnectionOptions;
  readonly #decoder = new FrameDecoder();
  readonly #queue = new Fifo<Pending>(64);
  #closed: WalrusError | undefined;
  #closing = false;
  #corked = false;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  /** Armed once the socket is ended by `close()`: destroys it if the node never closes its side. */
  #closeTimer: NodeJS.Timeout | undefined;
  #closedPromise: Promise<void>;
  #onClosed: Array<(reason: WalrusError) => void> = [];
  /** Last time a request was sent or answered (performance.now()). */
  lastUsedAt = performance.now();
  /** Last time the node sent anything on this connection (performance.now()). */
  #lastReplyAt = 0;

  /**
   * Opens a connection (TLS when `options.tls`) and, with `options.auth`,
   * logs it in before anyone can send on it. Rejects with
   * CONNECTION_REFUSED / CONNECTION_TIMEOUT / NETWORK_ERROR / AUTH_FAILED.
   * `onOpen` gets the connection once the socket is up, before the login.
   */
  static async connect(options: ConnectionOptions, onOpen?: (connection: Connection) => void): Promise<Connection> {
    const connection = await Connection.#open(options);
    onOpen?.(connection);
    if (options.auth) {
      const { signal } = options;
      const stopped = (): WalrusError => stoppedWhileConnecting(connection.node, 'logging in');
      if (signal?.aborted) {
        connection.destroy(stopped());
        throw stopped();
      }
      const off = signal ? onAbort(signal, () => connection.destroy(stopped())) : undefined;
      try {
        await authenticate(connection, options.auth);
      } catch (error) {
        throw signal?.aborted ? stopped() : error;
      } finally {
        off?.();
      }
    }
    return connection;
  }

  static #open(options: ConnectionOptions): Promise<Connection> {
    const node = `${options.host}:${options.port}`;
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(stoppedWhileConnecting(node, 'connecting'));
    return new Promise((resolve, reject) => {
      const { socket, readyEvent } = openSocket(options);
      let off: (() => void) | undefined;
      const fail = (error: WalrusError): void => {
        clearTimeout(timer);
        off?.();
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(() => fail(connectTimeout(node, options.connectTimeoutMs)), options.connectTimeoutMs);
      // The client closing cuts a connect (or TLS handshake) that has not finished.
      if (signal) off = onAbort(signal, () => fail(stoppedWhileConnecting(node, 'connecting')));
      const onError = (error: Error): void => fail(tlsHandshakeError(error, node) ?? socketError(error, node, 'connect'));
      socket.once('error', onError);
      const onConnect = (): void => {
        clearTimeout(timer);
        off?.();
        socket.removeListener('error', onError);
        resolve(new Connection(socket, options));
      };
      // A factory may hand back a socket that is already connected.
      if (readyEvent === 'connect' && !socket.pending && !socket.connecting) onConnect();
      else socket.once(readyEvent, onConnect);
    });
  }

  private constructor(socket: net.Socket, options: ConnectionOptions) {
    this.#socket = socket;
    this.#options = options;
    this.node = `${options.host}:${options.port}`;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    let lastError: WalrusError | undefined;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => {
      lastError = socketError(error, this.node, 'io');
    });
    this.#closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        this.#fail(lastError ?? new WalrusError('CONNECTION_CLOSED', `Node ${this.node} closed the connection.`, { context: { node: this.node } }));
        resolve();
      });
    });
  }

  /** Requests sent and not yet answered (aborted ones included until their reply is read). */
  get inFlight(): number {
    return this.#queue.length;
  }

  /**
   * How long the node has left this connection's requests without a word:
   * 0 when none waits, else the time since the oldest waiting request was
   * sent or the node last sent anything, whichever is later.
   */
  silentMs(now = performance.now()): number {
    const oldest = this.#queue.peek();
    return oldest === undefined ? 0 : Math.max(0, now - Math.max(oldest.sentAt, this.#lastReplyAt));
  }

  get isOpen(): boolean {
    return this.#closed === undefined && !this.#closing;
  }

  /** Why the connection closed, once it has. */
  get closedReason(): WalrusError | undefined {
    return this.#closed;
  }

  /** Registers a callback for when the connection is gone (closed, failed or retired). */
  onClose(callback: (reason: WalrusError) => void): void {
    if (this.#closed) callback(this.#closed);
    else this.#onClosed.push(callback);
  }

  /**
   * Sends one complete frame and resolves with `parse(replyBody)`.
   * Never hangs: the reply, the request timeout, the socket failing or the
   * signal settles it.
   */
  send<T>(frame: Buffer, parse: ReplyParser<T>, meta: RequestMeta): Promise<T> {
    const context: ErrorContext = { node: this.node, command: meta.command };
    if (meta.topic !== undefined) context.topic = meta.topic;
    if (this.#closed || this.#closing) return Promise.reject(closedBeforeSend(this.node, context, this.#closed));
    // A bad timeout must fail this request alone, not retire the connection under the others.
    const invalid = callOptionsError(meta, `${meta.command} to node ${this.node}`, meta.topic);
    if (invalid) return Promise.reject(invalid);
    if (meta.signal?.aborted) return Promise.reject(abortError(meta.signal, { ...context, requestSent: false }));
    const now = performance.now();
    const own = this.#options.requestTimeoutMs;
    const timeoutMs = meta.timeoutMs ?? own;
    const deadline = now + timeoutMs;
    // A shorter per-call timeout gives up on its caller only: retiring the
    // connection then would cut every other request in flight on it.
    const pending = new Pending(parse as ReplyParser<unknown>, context, deadline, timeoutMs < own ? now + own : deadline, now, frame.length, meta.signal);
    const promise = new Promise<T>((resolve, reject) => {
      pending.resolve = resolve as (value: unknown) => void;
      pending.reject = reject;
    });
    if (meta.signal) pending.offAbort = onAbort(meta.signal, () => this.#abandon(pending));
    this.#queue.push(pending);
    this.lastUsedAt = now;
    if (deadline < this.#timerAt) this.#arm(deadline);
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(uncork, this);
    }
    this.#socket.write(frame);
    return promise;
  }

  /**
   * Stops taking requests, lets in-flight ones finish (each bounded by its
   * timeout), then ends the socket. A node that does not finish the close
   * within `requestTimeoutMs` (stopped, partitioned, ignoring FIN) has the
   * socket destroyed, so this always resolves and leaves no socket behind.
   */
  close(): Promise<void> {
    if (!this.#closed && !this.#closing) {
      this.#closing = true;
      if (this.#queue.length === 0) this.#end();
    }
    return this.#closedPromise;
  }

  /** Closes at once; in-flight requests reject with `reason` (retriable). */
  destroy(reason?: WalrusError): void {
    this.#fail(reason ?? new WalrusError('CONNECTION_CLOSED', `Connection to ${this.node} was closed by the client.`, { context: { node: this.node } }));
  }

  /** @internal called on the next tick after the first write of a tick. */
  flushCorked(): void {
    this.#corked = false;
    this.#socket.uncork();
  }

  #onData(chunk: Buffer): void {
    this.lastUsedAt = this.#lastReplyAt = performance.now();
    this.#decoder.push(chunk);
    for (;;) {
      const unit = this.#decoder.next();
      if (unit === undefined) break;
      if (unit.kind === 'invalid-length') {
        this.#fail(new WalrusError('PROTOCOL_ERROR', `Node ${this.node} sent a frame length of ${unit.length}, outside 1..${MAX_FRAME_BYTES}; nothing was allocated for it, and the connection is out of step and was retired.`, { context: { node: this.node } }));
        return;
      }
      const pending = this.#queue.shift();
      if (pending === undefined) {
        this.#unexpectedReply(unit.body);
        return;
      }
      this.#settle(pending, unit.body);
      if (this.#closed) return;
    }
    if (this.#closing && this.#queue.length === 0) this.#end();
  }

  /** Half-closes the socket, and destroys it if the node has not closed its side within `requestTimeoutMs`. */
  #end(): void {
    if (this.#closeTimer || this.#closed) return;
    this.#socket.end();
    const waitMs = this.#options.requestTimeoutMs;
    // Unref'd: the socket itself keeps the process alive until this fires.
    this.#closeTimer = setTimeout(() => {
      this.#fail(new WalrusError('CONNECTION_CLOSED', `Node ${this.node} did not finish closing the connection within ${waitMs} ms (requestTimeoutMs); the socket was destroyed.`, { context: { node: this.node, timeoutMs: waitMs } }));
    }, waitMs);
    this.#closeTimer.unref();
  }

  /**
   * A frame while no request waits for one. Walrus replies carry no request
   * id: they pair with requests by order alone, so one extra reply (a buggy
   * or hostile node, garbage that parses as a frame) shifts every later
   * pairing by one, and a GET gets another call's answer. It can be seen for
   * sure only here, when nothing waits (and where a reply cannot answer its
   * request, see the reply parsers): nothing later on this connection can be
   * trusted, so it is retired, and counted as a PROTOCOL_ERROR of the
   * pseudo-command UNEXPECTED_REPLY (client.stats(), walrus_stream_client_requests_total).
   */
  #unexpectedReply(body: Buffer): void {
    const shown = JSON.stringify(body.toString('utf8', 0, Math.min(body.length, 40))) + (body.length > 40 ? '...' : '');
    const error = new WalrusError('PROTOCOL_ERROR',
      `Node ${this.node} sent an unexpected reply (${body.length} bytes, ${shown}) while no request was waiting for one; replies on this connection can no longer be matched to their requests, so it was retired.`,
      { context: { node: this.node, command: UNEXPECTED_REPLY } });
    this.#options.onReply?.({ command: UNEXPECTED_REPLY, outcome: 'error', error, durationMs: 0, bytesOut: 0, bytesIn: body.length + 4, discardedEntries: 0 });
    this.#fail(error);
  }

  #settle(pending: Pending, body: Buffer): void {
    pending.offAbort?.();
    const durationMs = performance.now() - pending.sentAt;
    const bytesIn = body.length + 4;
    const onReply = this.#options.onReply;
    let value: unknown;
    try {
      value = pending.parse(body, pending.context);
    } catch (thrown) {
      const error = thrown instanceof WalrusError ? thrown : new WalrusError('PROTOCOL_ERROR', `Reply parser failed: ${(thrown as Error).message}`, { cause: thrown, context: pending.context });
      // A reply, even one we cannot read, means the node got the request and
      // may have run it: no failover to another node, and a retry counts as
      // a possible duplicate (PUT) or loss (GET).
      if (error.code === 'PROTOCOL_ERROR') error.context.requestSent = true;
      if (pending.abandoned) onReply?.(sample(pending, 'abandoned', durationMs, bytesIn, 0));
      else {
        onReply?.(sample(pending, 'error', durationMs, bytesIn, 0, error));
        pending.reject(error);
      }
      if (error.code === 'PROTOCOL_ERROR') this.#fail(error);
      return;
    }
    if (pending.abandoned) {
      const lost = Buffer.isBuffer(value) ? 1 : Array.isArray(value) ? value.length : 0;
      onReply?.(sample(pending, 'abandoned', durationMs, bytesIn, lost));
      return;
    }
    onReply?.(sample(pending, 'ok', durationMs, bytesIn, 0));
    pending.resolve(value);
  }

  #abandon(pending: Pending): void {
    if (pending.abandoned || this.#closed) return;
    pending.abandoned = true;
    pending.reject(abortError(pending.signal!, { ...pending.context, requestSent: true }));
  }

  #arm(deadline: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = deadline;
    this.#timer = setTimeout(onTimer, Math.max(0, deadline - performance.now()) + 1, this);
    this.#timer.unref();
  }

  /** @internal timer callback: retire the connection if any request is past its deadline. */
  checkDeadlines(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    if (this.#closed) return;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    let expired: Pending | undefined;
    for (const pending of this.#queue) {
      if (pending.retireAt <= now) {
        expired = pending;
        break;
      }
      if (!pending.abandoned && pending.deadline <= now) this.#giveUp(pending, now);
      const due = pending.abandoned ? pending.retireAt : pending.deadline;
      if (due < next) next = due;
    }
    if (expired) {
      const waited = Math.round(now - expired.sentAt);
      this.#fail(new WalrusError('REQUEST_TIMEOUT', `${expired.context.command} got no reply from node ${this.node} within ${waited} ms; the connection was retired.`, {
        context: { ...expired.context, requestSent: true, timeoutMs: waited },
      }), expired);
    } else if (next !== Number.POSITIVE_INFINITY) {
      this.#arm(next);
    }
  }

  /**
   * A request past its own `timeoutMs` but not yet `requestTimeoutMs`: its
   * caller gets REQUEST_TIMEOUT, and its slot stays, like an abort's (the
   * reply is read and dropped), so the requests beside it live on.
   */
  #giveUp(pending: Pending, now: number): void {
    pending.abandoned = true;
    pending.offAbort?.();
    pending.offAbort = undefined;
    const waited = Math.round(now - pending.sentAt);
    pending.reject(new WalrusError('REQUEST_TIMEOUT', `${pending.context.command} got no reply from node ${this.node} within its timeoutMs (${waited} ms) and was given up; the node may still run it (its reply is read and dropped).`, {
      // givenUp: its reply still comes; an entry in it counts in discardedEntries, not possibleLosses.
      context: { ...pending.context, requestSent: true, timeoutMs: waited, givenUp: true },
    }));
  }

  #fail(reason: WalrusError, culprit?: Pending): void {
    if (this.#closed) return;
    this.#closed = reason;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    this.#timer = undefined;
    this.#socket.destroy();
    const now = performance.now();
    for (const pending of this.#queue.drain()) {
      pending.offAbort?.();
      if (pending.abandoned) continue;
      const error = pending === culprit || pending.context === reason.context ? reason : inFlightFailure(reason, pending.context);
      this.#options.onReply?.(sample(pending, 'error', now - pending.sentAt, 0, 0, error));
      pending.reject(error);
    }
    for (const callback of this.#onClosed.splice(0)) callback(reason);
  }
}

function stoppedWhileConnecting(node: string, phase: string): WalrusError {
  return new WalrusError('POOL_CLOSED', `The client was closed while ${phase} to node ${node}; the connection was abandoned.`, { context: { node } });
}

/** The command name under which replies that answer no request are counted. */
export const UNEXPECTED_REPLY = 'UNEXPECTED_REPLY';

function uncork(connection: Connection): void {
  connection.flushCorked();
}

function onTimer(connection: Connection): void {
  connection.checkDeadlines();
}
