import type { ServerResponse } from 'node:http';

/**
 * The open Server-Sent Events streams of the dashboard. A stream whose
 * socket cannot keep up (the kernel buffer is full) is skipped until it
 * drains, so a stalled browser tab costs the run nothing but memory for one
 * message.
 */
export class EventStreams {
  readonly #clients = new Set<ServerResponse>();
  readonly max: number;
  #heartbeat: NodeJS.Timeout | undefined;

  /** @param max most open streams; more are refused with 503 (@default 16) */
  constructor(max = 16) {
    this.max = max;
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Starts a stream on `res`; false when there are already `max` of them. */
  open(res: ServerResponse, first: Array<{ event: string; data: unknown }>): boolean {
    if (this.#clients.size >= this.max) return false;
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
    // Proxies close idle streams: a comment every 15 s keeps them open.
    this.#heartbeat ??= setInterval(() => { for (const client of this.#clients) client.write(': keep-alive\n\n'); }, 15_000).unref();
    return true;
  }

  /** Sends one event to every open stream (serialized once). */
  send(event: string, data: unknown): void {
    if (this.#clients.size === 0) return;
    const text = format(event, data);
    for (const client of this.#clients) if (!client.writableNeedDrain) client.write(text);
  }

  close(): void {
    for (const client of this.#clients) client.end();
    this.#clients.clear();
    this.#stopHeartbeat();
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}

function format(event: string, data: unknown): string {
  // JSON has no raw newlines, so one `data:` line is enough.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
