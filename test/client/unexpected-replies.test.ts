import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WalrusClient } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { frameOf, startLyingNode, stockAnswer, type Answer } from '../helpers/lying-node.js';

/*
 * Walrus replies carry no request id: a connection pairs them with its requests by order. A node that sends one
 * reply too many (buggy, hostile, or garbage that parses as a frame) shifts every later pairing, and a call gets
 * another call's answer. Each test plays such a node (a raw TCP server, test/helpers/lying-node.ts) and checks that
 * no call is handed a wrong answer: where the client can tell (nothing waits for the reply, or it cannot answer the
 * request it is paired with), the connection is retired and the calls in flight on it fail retriably, so they are
 * retried on a fresh connection.
 */

type Liar = (request: string, nth: number, socket: net.Socket) => Answer;

async function withLyingNode(liar: Liar, fn: (client: WalrusClient, node: string) => Promise<void>, retries = 2): Promise<void> {
  const seen = new Map<string, number>();
  const node = await startLyingNode((request, socket) => {
    const op = request.split(' ', 1)[0]!;
    seen.set(op, (seen.get(op) ?? 0) + 1);
    return liar(request, seen.get(op)!, socket);
  });
  // One connection: every call shares it, so a shifted reply would reach the next call.
  const client = new WalrusClient({ nodes: [node.address], requestTimeoutMs: 2_000, pool: { min: 1, max: 1 }, retry: { retries, initialDelayMs: 1, maxDelayMs: 5 } });
  try {
    await fn(client, node.address);
  } finally {
    await client.close();
    await node.close();
  }
}

const unexpectedReplies = (client: WalrusClient, node: string) => client.stats().nodes[node]!.requests.UNEXPECTED_REPLY?.errors.PROTOCOL_ERROR ?? 0;

test('a reply while no request waits retires the connection and is counted (UNEXPECTED_REPLY, PROTOCOL_ERROR); the next GET gets its own answer', async () => {
  await withLyingNode((request, nth, socket) => {
    // The first PUT is answered twice, the second time late: nothing waits for it then.
    if (request.startsWith('PUT ') && nth === 1) setTimeout(() => socket.write(frameOf('OK stolen')), 10);
    return request.startsWith('GET ') ? 'OK own-entry' : stockAnswer(request);
  }, async (client, node) => {
    await client.put('t', 'x');
    await sleep(60);
    assert.equal((await client.get('t'))?.toString(), 'own-entry');
    assert.equal(unexpectedReplies(client, node), 1, 'the extra reply is counted');
  });
});

test('an extra reply that cannot answer the call it is paired with retires the connection: a BATCH_PUT answered with another count, pipelined with a GET', async () => {
  let batchPutHeld = false;
  await withLyingNode((request, nth) => {
    const op = request.split(' ', 1)[0];
    if (op === 'BATCH_PUT' && request !== 'BATCH_PUT' && nth === 3) { batchPutHeld = true; return undefined; } // answered with the GET, below
    // A stray "OK 1" before the held BATCH_PUT's own "OK 2": paired in order, the GET behind it would get "OK 2".
    if (op === 'GET' && nth === 1) return ['OK 1', 'OK 2', 'OK own-entry'];
    if (op === 'BATCH_PUT' && request !== 'BATCH_PUT') return 'OK 2';
    if (op === 'BATCH_PUT' || op === 'BATCH_GET' || op === 'BATCH_LEASE' || op === 'CLAIM') return `ERR ${op} requires a topic`;
    return op === 'GET' ? 'OK own-entry' : stockAnswer(request);
  }, async (client, node) => {
    await client.putMany('t', ['a', 'b']); // probes the node and registers the topic
    const put = client.putMany('t', ['c', 'd']);
    while (!batchPutHeld) await sleep(1);
    const got = await client.get('t');
    await put;
    assert.equal(got?.toString(), 'own-entry', 'the GET never gets the stray reply (it would read "2")');
    assert.equal(client.stats().nodes[node]!.requests.BATCH_PUT!.errors.PROTOCOL_ERROR, 1);
  });
});

test('a probe paired with a stray OK fails (PROTOCOL_ERROR) instead of reporting a command the node does not have; the retried probe gets it right', async () => {
  let strays = 0;
  await withLyingNode((request, nth) => {
    // A stock node (it knows no extension) that answers the first probe twice, once with a stray OK.
    if (request === 'BATCH_PUT' && nth === 1) { strays++; return ['ERR unknown command', 'OK']; }
    return stockAnswer(request);
  }, async (client, node) => {
    await client.putMany('t', ['a', 'b']);
    assert.equal(strays, 1);
    const capabilities = client.capabilities(node);
    assert.deepEqual([capabilities.batchPut, capabilities.batchGet, capabilities.batchLease, capabilities.claims], [false, false, false, false],
      'no capability comes from a reply meant for another probe');
    assert.ok((client.stats().nodes[node]!.requests.PROBE!.errors.PROTOCOL_ERROR ?? 0) >= 1);
    assert.equal(client.stats().fallbacks > 0, true, 'the batch went as single PUTs');
  });
});

test('a stray EMPTY paired with a PUT fails it, and the call in flight behind it fails retriably, saying what the node did (no retries here)', async () => {
  await withLyingNode((request, nth) => {
    // The first GET is answered twice: its stray "EMPTY" reaches the PUT pipelined behind it, and a PUT cannot get EMPTY.
    if (request.startsWith('GET ') && nth === 1) return ['OK own-entry', 'EMPTY'];
    return stockAnswer(request);
  }, async (client, node) => {
    await client.register('t');
    const [got, first, second] = await Promise.allSettled([client.get('t'), client.put('t', 'y'), client.put('t', 'z')]);
    assert.equal(got.status === 'fulfilled' && got.value?.toString(), 'own-entry');
    for (const [result, pattern] of [[first, /^Unexpected reply to PUT from node .*: "EMPTY"\.$/], [second, /^PUT was in flight when the connection to .* was lost: Unexpected reply to PUT/]] as const) {
      assert.equal(result.status, 'rejected');
      const error = (result as PromiseRejectedResult).reason as WalrusError;
      assert.ok(error instanceof WalrusError);
      assert.deepEqual([error.code, error.retriable, error.context.requestSent, error.context.node], ['PROTOCOL_ERROR', true, true, node]);
      assert.match(error.message, pattern);
    }
  }, 0);
});
