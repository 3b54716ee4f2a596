import type { TestContext } from 'node:test';
import { request } from 'node:http';
import { WalrusClient } from '../../src/client/index.js';
import { replayEntries } from '../../src/cli/commands/dlq-replay.js';
import { DeadLetterRing, MetricsHub, StatsSampler, createDashboard, startObservabilityServer } from '../../src/observability/index.js';
import { buildDeadLetter, parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { startTestBroker } from './broker.js';

/**
 * A dashboard whose dead letters replay to a real test node, with `topics`
 * registered there; closed when the test ends. `deadLetter` adds one to its
 * ring (from source `source`) and returns its id.
 */
export async function replayDashboard(t: TestContext, app: string, topics: string[]) {
  const node = await startTestBroker();
  const client = new WalrusClient({ nodes: [node.address] });
  t.after(async () => { await client.close(); await node.close(); });
  for (const topic of topics) await client.register(topic);
  const hub = new MetricsHub({ processMetrics: false });
  const ring = new DeadLetterRing({ parse: parseDeadLetter });
  const sampler = new StatsSampler({ progress: () => hub.progress(), processors: () => ({}) });
  const dashboard = createDashboard({
    topology: { app, stores: [], nodes: [], edges: [], instance: { id: null, index: null, count: null }, partitioned: [] },
    sampler, deadLetters: ring, replay: (entries) => replayEntries(client, entries),
  });
  const server = await startObservabilityServer({ port: 0, metrics: hub, routes: dashboard.routes });
  t.after(async () => { dashboard.close(); await server.close(); });
  const deadLetter = (source: string, entry: string, recordId: string): number => ring.add({ processor: 'p', topic: `${source}.dlq`, entry: buildDeadLetter({
    entry, error: { code: 'E', message: 'boom', retriable: false } as never,
    processor: 'p', attempts: 1, firstFailureAt: 1, lastFailureAt: 2, sourceTopic: source, recordId,
  }) }).id;
  return { client, port: server.port, deadLetter };
}

/** POSTs a JSON body to the dashboard's replay endpoint; the status and the parsed answer. */
export function postReplay<T>(port: number, body: unknown): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/dead-letters/replay', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString('utf8'); });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as T }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
