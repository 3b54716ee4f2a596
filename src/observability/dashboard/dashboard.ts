import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExtraRoutes, RouteContext } from '../http/http-server.js';
import { dashboardAsset, SECURITY_HEADERS } from './assets.js';
import type { DeadLetterRing, RecentDeadLetter } from './dead-letter-ring.js';
import type { DashboardTopology, ReplayAnswer, StorePage } from './dashboard-types.js';
import { EventStreams, type EventStreamsOptions } from './event-stream.js';
import { BodyError, readJsonBody, refuseReason } from './request-guard.js';
import type { StatsSampler } from './stats-sampler.js';
import { taggedJson } from '../http/stored-value.js';

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  topology: DashboardTopology;
  sampler: StatsSampler;
  deadLetters: DeadLetterRing;
  /** Replays dead-letter entries (the same code as `walrus-stream dlq replay`). */
  replay(entries: string[]): Promise<{ replayed: Record<string, number>; results: Array<{ ok: true; topic: string } | { ok: false; reason: string }> }>;
  /** Reads one page of a state store of the run. @default no store browser */
  browseStore?(store: string, select: { prefix?: string; limit: number }): Promise<StorePage>;
  /** Limits of the `/api/events` streams (most open, unsent bytes per stream). @default 16 streams, 128 KiB */
  eventStreams?: EventStreamsOptions;
  /** Most dead letters one replay may select. @default 100 */
  maxReplay?: number;
}

/** The dashboard: its routes for the observability server, and `close()` for the end of the run. */
export interface Dashboard {
  readonly routes: ExtraRoutes;
  /** Open Server-Sent Events streams. */
  readonly streams: number;
  close(): void;
}

function json(res: ServerResponse, status: number, body: unknown, head = false): true {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(head ? undefined : text);
  return true;
}

/**
 * State-store reads run one at a time, and at most this many wait or run:
 * a read loads the store's files whole (30 concurrent reads of a 120 MB store
 * took the run to 3.8 GB RSS). More get a 503.
 */
export const MAX_STORE_READS = 4;

const API = {
  'GET /api/topology': 'the graph: nodes (sources, processors with their stage group, sinks, topics) and edges; which instance this run is; the partitions it owns of each partitioned source, sink and store',
  'GET /api/stats': 'the latest stats frame (with each source partition\'s lag) and the last minutes of them',
  'GET /api/status': 'health (/healthz) and readiness (/readyz) with reasons',
  'GET /api/events': 'Server-Sent Events: stats (every second), deadletters (new ones), status (every 5 s), closed (why the server ended the stream)',
  'GET /api/dead-letters': 'recent dead letters, newest first (?processor= &code= &limit=)',
  'POST /api/dead-letters/replay': 'replay selected dead letters: {"ids": [1, 2], "confirm": true}',
  'GET /api/stores': 'state stores of the run',
  'GET /api/stores/<name>': 'keys and values of a store (?prefix= &limit=)',
} as const;

/**
 * The live dashboard served at `/` by the observability server: the page
 * and its JSON API (see docs/observability.md, "Dashboard"). Every request
 * goes through `refuseReason` (Host on a loopback bind; JSON and same-origin
 * for POST).
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  const { sampler, deadLetters } = options;
  const streams = new EventStreams(options.eventStreams);
  const maxReplay = options.maxReplay ?? 100;
  // Dead letters go out with the next stats frame, at most 50 per second: a burst of thousands
  // must not flood the page (it lists the latest and shows the total).
  let fresh: RecentDeadLetter[] = [];
  const removeDeadLetterListener = deadLetters.onAdd((view) => {
    if (streams.size === 0) return;
    fresh.push(view);
    if (fresh.length > 50) fresh.shift();
  });
  let statusTick = 0;
  let latestStatus: unknown;
  let readStatus: (() => Promise<unknown>) | undefined;
  const removeFrameListener = sampler.onFrame((frame) => {
    if (streams.size === 0) { fresh = []; return; }
    streams.send('stats', frame);
    if (fresh.length > 0) {
      streams.send('deadletters', { total: deadLetters.total, items: fresh.reverse() });
      fresh = [];
    }
    if (readStatus && statusTick++ % 5 === 0) {
      void readStatus().then((status) => { latestStatus = status; streams.send('status', status); }, () => undefined);
    }
  });

  const replaying = new Set<number>();
  let storeReads = 0;
  let lastStoreRead: Promise<unknown> = Promise.resolve();

  const status = async (context: RouteContext): Promise<unknown> => {
    const ready = await context.ready();
    return { health: context.health(), ready };
  };

  async function route(req: IncomingMessage, res: ServerResponse, context: RouteContext): Promise<boolean> {
    const { path } = context;
    const method = req.method ?? 'GET';
    const isApi = path.startsWith('/api/') || path === '/api';
    const asset = isApi ? undefined : dashboardAsset(path);
    if (!isApi && asset === undefined) return false;
    const refused = refuseReason(req, { loopback: context.loopback });
    if (refused !== undefined) return json(res, 403, { error: refused });
    readStatus ??= () => status(context);
    const head = method === 'HEAD';

    if (asset) {
      if (method !== 'GET' && !head) return methodNotAllowed(res, 'GET, HEAD');
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.contentType, 'content-length': asset.body.length, 'cache-control': 'no-cache' });
      res.end(head ? undefined : asset.body);
      return true;
    }
    if (path === '/api/dead-letters/replay') {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      return json(res, ...(await replay(req)));
    }
    if (method !== 'GET' && !head) return methodNotAllowed(res, 'GET, HEAD');
    switch (path) {
      case '/api':
        return json(res, 200, { endpoints: API }, head);
      case '/api/topology':
        return json(res, 200, options.topology, head);
      case '/api/stats':
        return json(res, 200, { current: sampler.current(), history: sampler.history() }, head);
      case '/api/status':
        return json(res, 200, await status(context), head);
      case '/api/events': {
        if (head) { res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' }); res.end(); return true; }
        const first = [{ event: 'stats', data: sampler.current() }, ...(latestStatus ? [{ event: 'status', data: latestStatus }] : [])];
        streams.open(res, first);
        return true;
      }
      case '/api/dead-letters': {
        const limit = intParam(context.query.get('limit'), 200, 1, deadLetters.capacity);
        if (typeof limit === 'string') return json(res, 400, { error: limit });
        const filter = { processor: context.query.get('processor') ?? undefined, code: context.query.get('code') ?? undefined, limit };
        return json(res, 200, { total: deadLetters.total, capacity: deadLetters.capacity, tallies: deadLetters.tallies(), items: deadLetters.list(filter) }, head);
      }
      case '/api/stores':
        return json(res, 200, { stores: options.browseStore ? options.topology.stores : [] }, head);
      default:
        if (path.startsWith('/api/stores/')) {
          const name = decodedSegment(path.slice('/api/stores/'.length));
          if (name === undefined) return json(res, 400, { error: `the store name in ${path} is not valid percent-encoded UTF-8; GET /api/stores lists the stores` }, head);
          return json(res, ...(await browse(name, context.query)), head);
        }
        return json(res, 404, { error: `no such endpoint ${path}; GET /api lists them` }, head);
    }
  }

  async function replay(req: IncomingMessage): Promise<[number, unknown]> {
    let body: unknown;
    try {
      body = await readJsonBody(req);
    } catch (error) {
      return error instanceof BodyError ? [error.status, { error: error.message }] : [400, { error: String(error) }];
    }
    const { ids, confirm, ...rest } = (typeof body === 'object' && body !== null ? body : {}) as { ids?: unknown; confirm?: unknown };
    // The target is never the request's to choose: each dead letter goes back to the source topic it
    // records (`sourceTopic`). A field such as "to" or "topic" used to be ignored without a word.
    const unknown = Object.keys(rest).slice(0, 5);
    if (unknown.length > 0) {
      return [400, { error: `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}: the body is {"ids": [...], "confirm": true}; a replay always goes to each dead letter's own source topic (sourceTopic in GET /api/dead-letters); to send dead letters elsewhere use walrus-stream dlq replay --to <topic>` }];
    }
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => Number.isSafeInteger(id) && (id as number) > 0)) {
      return [400, { error: 'body must be {"ids": [<dead-letter id>, ...], "confirm": true} with at least one positive integer id' }];
    }
    if (ids.length > maxReplay) return [400, { error: `at most ${maxReplay} dead letters per replay (got ${ids.length})` }];
    // Each selected dead letter goes back once: an id named twice would be replayed (and processed) twice.
    const repeated = (ids as number[]).find((id, i) => ids.indexOf(id) !== i);
    if (repeated !== undefined) return [400, { error: `dead letter ${repeated} is named more than once; list each id once` }];
    if (confirm !== true) return [400, { error: 'replay changes data: send "confirm": true' }];
    const held = deadLetters.entries(ids as number[]);
    // One replay of a dead letter at a time: a second click (or tab) while the first is under way would send it twice.
    const found = held.found.filter((f) => !replaying.has(f.id));
    const answer: ReplayAnswer = {
      replayed: {},
      results: [
        ...held.missing.map((id) => ({ id, ok: false as const, reason: 'no longer held (only the latest dead letters are kept)' })),
        ...held.found.filter((f) => replaying.has(f.id)).map((f) => ({ id: f.id, ok: false as const, reason: 'already being replayed by another request; not sent again' })),
      ],
    };
    for (const f of found) replaying.add(f.id);
    if (found.length > 0) {
      try {
        const outcome = await options.replay(found.map((f) => f.entry));
        answer.replayed = outcome.replayed;
        outcome.results.forEach((r, i) => answer.results.push({ id: found[i]!.id, ...r }));
        deadLetters.markReplayed(found.filter((_, i) => outcome.results[i]?.ok).map((f) => f.id));
      } catch (error) {
        return [502, { error: `replay failed: ${(error as Error).message}`, code: (error as { code?: string }).code }];
      } finally {
        for (const f of found) replaying.delete(f.id);
      }
    }
    const order = new Map((ids as number[]).map((id, i) => [id, i]));
    answer.results.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    return [200, answer];
  }

  async function browse(store: string, query: URLSearchParams): Promise<[number, unknown]> {
    if (!options.browseStore || !options.topology.stores.includes(store)) {
      return [404, { error: `no state store "${store}" in this run; GET /api/stores lists them` }];
    }
    const limit = intParam(query.get('limit'), 100, 1, 1_000);
    if (typeof limit === 'string') return [400, { error: limit }];
    const prefix = query.get('prefix') ?? undefined;
    if (storeReads >= MAX_STORE_READS) {
      return [503, { error: `${storeReads} state-store reads are already running or waiting (one runs at a time: each loads the store's files whole); retry in a moment` }];
    }
    storeReads++;
    const read = lastStoreRead.then(() => options.browseStore!(store, { prefix: prefix === '' ? undefined : prefix, limit }));
    lastStoreRead = read.catch(() => undefined);
    try {
      const page = await read;
      // Values JSON cannot hold (a BigInt threw in JSON.stringify, a Map showed as {}) in their tagged form (stored-value.ts).
      return [200, { ...page, entries: page.entries.map((e) => ({ key: e.key, value: taggedJson(e.value) })) }];
    } catch (error) {
      return [500, { error: (error as Error).message, code: (error as { code?: string }).code }];
    } finally {
      storeReads--;
    }
  }

  return {
    routes: route,
    get streams() { return streams.size; },
    close() {
      removeDeadLetterListener();
      removeFrameListener();
      streams.close();
    },
  };
}

function methodNotAllowed(res: ServerResponse, allow: string): true {
  res.setHeader('allow', allow);
  return json(res, 405, { error: `method not allowed; use ${allow}` });
}

/** A path segment decoded, or undefined when its percent-encoding is broken (`%E0`, `%zz`). */
function decodedSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function intParam(text: string | null, fallback: number, min: number, max: number): number | string {
  if (text === null || text === '') return fallback;
  const n = Number(text);
  return Number.isInteger(n) && n >= min && n <= max ? n : `limit must be an integer ${min}..${max} (got "${text}")`;
}
