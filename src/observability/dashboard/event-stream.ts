import type { ServerResponse } from 'node:http';

/**
 * Unsent bytes a stream may hold in the run's memory (on top of what the
 * kernel buffers for its socket). A browser tab that reads holds none for
 * long: a stats frame is a few KiB a second. Past it the client is not
 * reading and its stream is closed (it would still hold a slot).
 */
export const MAX_UNSENT_EVENT_BYTES = 128 * 1024;

/** Options of {@link EventStreams}. */
export interface EventStreamsOptions {
  /** Most open streams; a new one closes the stalest (see `open`). @default 16 */
  max?: number;
  /** Unsent bytes past which a stream is closed. @default {@link MAX_UNSENT_EVENT_BYTES} */
  maxUnsentBytes?: number;
  /** A comment this often keeps proxies from closing idle streams. @default 15000 */
  heartbeatMs?: number;
}

/** Why a stream was closed by the server, as its final `closed` event says. */
export type StreamCloseReason = 'replaced' | 'shutdown';

/**
 * The open Server-Sent Events streams of the dashboard. A slot must not be
 * something a client can hold: 16 local sockets that ask and never read
 * used to take every slot, and every real viewer got a 503 for as long as
 * they stayed. Now:
 *
 * - a stream whose client does not read is closed once its unsent bytes
 *   pass `maxUnsentBytes` (so each stream holds at most that plus one
 *   message of the run's memory);
 * - when all slots are taken, a new viewer still gets a stream: the stalest
 *   one (one with unsent bytes first, else the oldest) is closed with a
 *   final `closed` event saying why, and a 10 s reconnect delay so two
 *   viewers past the limit do not push each other out every 2 s.
 */
export class EventStreams {
  readonly #clients = new Set<ServerResponse>();
  readonly max: number;
  readonly maxUnsentBytes: number;
  readonly #heartbeatMs: number;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(options: EventStreamsOptions = {}) {
    this.max = options.max ?? 16;
    this.maxUnsentBytes = options.maxUnsentBytes ?? MAX_UNSENT_EVENT_BYTES;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    if (!Number.isInteger(this.max) || this.max < 1) throw new RangeError(`event streams: max must be a positive integer (got ${this.max})`);
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Starts a stream on `res`; when all slots are taken, the stalest stream is closed first. */
  open(res: ServerResponse, first: Array<{ event: string; data: unknown }>): void {
    if (this.#clients.size >= this.max) this.#closeStalest();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff',
    });
    // A browser reconnects this long after the stream drops.
    res.write('retry: 2000\n\n');
    for (const message of first) res.write(format(message.event, message.data));
    this.#clients.add(res);
    res.on('close', () => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) this.#stopHeartbeat();
    });
    this.#heartbeat ??= setInterval(() => this.#write(': keep-alive\n\n'), this.#heartbeatMs).unref();
  }

  /** Sends one event to every open stream (serialized once). */
  send(event: string, data: unknown): void {
    if (this.#clients.size === 0) return;
    this.#write(format(event, data));
  }

  close(): void {
    for (const client of this.#clients) end(client, 'shutdown');
    this.#clients.clear();
    this.#stopHeartbeat();
  }

  #write(text: string): void {
    for (const client of this.#clients) {
      // Checked before writing: a client that has not taken the last `maxUnsentBytes` will not take this.
      if (client.writableLength > this.maxUnsentBytes) {
        this.#clients.delete(client);
        client.destroy();
        continue;
      }
      client.write(text);
    }
    if (this.#clients.size === 0) this.#stopHeartbeat();
  }

  #closeStalest(): void {
    let stalest: ServerResponse | undefined;
    for (const client of this.#clients) {
      // Set order is opening order: the first with unsent bytes, else the oldest.
      if (client.writableLength > 0) { stalest = client; break; }
      stalest ??= client;
    }
    if (stalest === undefined) return;
    this.#clients.delete(stalest);
    if (stalest.writableLength > 0) stalest.destroy();
    else end(stalest, 'replaced');
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}

const CLOSE_REASONS: Record<StreamCloseReason, string> = {
  replaced: 'closed to make room for a newer viewer: all event streams were taken; close other dashboard tabs',
  shutdown: 'the run is stopping',
};

function end(client: ServerResponse, reason: StreamCloseReason): void {
  // The socket, not the response: once the response ends it is detached, and keep-alive would hold the socket 5 s more.
  const socket = client.socket;
  client.end(`retry: 10000\n${format('closed', { reason, detail: CLOSE_REASONS[reason] })}`, () => socket?.end());
  // A client that does not take the final event must not keep the socket.
  setTimeout(() => socket?.destroy(), 1_000).unref();
}

function format(event: string, data: unknown): string {
  // JSON has no raw newlines, so one `data:` line is enough.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
