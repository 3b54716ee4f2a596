// run-tests: own process: measures the process's array buffers
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { WalrusClient, type WalrusClientOptions } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { runCli } from '../helpers/cli-in-process.js';
import { startLyingNode, stockAnswer, type Answer } from '../helpers/lying-node.js';
import { startTcpPeer, type TcpPeer } from '../helpers/tcp-peer.js';

/**
 * The client against nodes that lie: each test starts a real TCP server that
 * answers with replies a Walrus node must never send, and checks the client
 * fails the call with a typed error naming the node, accepts nothing wrong,
 * and serves the next call.
 */
describe('client against a lying node', () => {
  const peers: TcpPeer[] = [];
  const clients: WalrusClient[] = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(peers.map((p) => p.close()));
  });

  async function lyingNode(answer: (request: string) => Answer) {
    const node = await startLyingNode(answer);
    peers.push(node);
    return node;
  }

  function client(nodes: string[], options: Partial<WalrusClientOptions> = {}): WalrusClient {
    const c = new WalrusClient({ nodes, requestTimeoutMs: 2_000, retry: { retries: 0 }, ...options });
    clients.push(c);
    return c;
  }

  const protocolError = (node: string, pattern: RegExp) => (e: unknown) => {
    assert.ok(e instanceof WalrusError, `a WalrusError, got ${String(e)}`);
    assert.equal(e.code, 'PROTOCOL_ERROR');
    assert.match(e.message, pattern);
    assert.ok(e.message.includes(node), `the message names the node: ${e.message}`);
    return true;
  };

  test('deeply nested METRICS/STATE JSON is refused before it reaches the caller (it crashed `walrus-stream metrics`)', async () => {
    const nested = `{"id":1,"state":"Leader","current_leader":1,"x":${'['.repeat(30_000)}${']'.repeat(30_000)}}`;
    const node = await lyingNode((request) => (request === 'METRICS' || request.startsWith('STATE ') ? nested : stockAnswer(request)));
    const c = client([node.address]);
    await assert.rejects(c.metrics(), protocolError(node.address, /METRICS .*nests deeper than 32 levels/));
    await assert.rejects(c.state('t'), protocolError(node.address, /STATE .*nests deeper than 32 levels/));
    await c.put('t', 'next call works');

    const cli = await runCli(['metrics', '--nodes', node.address]);
    assert.equal(cli.code, 3, cli.stderr); // EXIT.FAILURE, like an unreachable node
    const out = JSON.parse(cli.stdout) as Record<string, { error?: { code: string } }>;
    assert.equal(out[node.address]!.error!.code, 'PROTOCOL_ERROR');
    assert.doesNotMatch(cli.stderr, /RangeError|call stack/);
  });

  test('an unreadable reply to PUT is not failed over to another node: that node ran it too', async () => {
    const liar = (request: string) => (request.startsWith('PUT ') ? 'OK stored?' : stockAnswer(request));
    const a = await lyingNode(liar);
    const b = await lyingNode(liar);
    const c = client([a.address, b.address]);
    await assert.rejects(c.put('t', 'once'), (e: unknown) => e instanceof WalrusError && e.code === 'PROTOCOL_ERROR' && e.context.requestSent === true);
    const puts = [...a.requests, ...b.requests].filter((r) => r.startsWith('PUT '));
    assert.equal(puts.length, 1, 'one node got the PUT, not both');
    assert.equal(c.stats().failovers, 0);
  });

  test('retries after unreadable replies are counted: GET as a possible loss, PUT and BATCH_PUT as possible duplicates', async () => {
    const lied = new Set<string>();
    const once = (op: string, lie: string, truth: string) => (request: string) => {
      if (!request.startsWith(`${op} `)) return undefined;
      if (lied.has(op)) return truth;
      lied.add(op);
      return lie;
    };
    const get = once('GET', 'OK', 'OK second');
    const put = once('PUT', 'OK stored?', 'OK');
    const batchPut = once('BATCH_PUT', 'OK 1', 'OK 3'); // 3 entries sent, 1 confirmed
    const node = await lyingNode((request) => get(request) ?? put(request) ?? batchPut(request) ?? (request === 'BATCH_PUT' ? 'ERR BATCH_PUT requires a topic' : stockAnswer(request)));
    const c = client([node.address], { retry: { retries: 1, initialDelayMs: 1, maxDelayMs: 1 } });
    assert.equal(String(await c.get('t')), 'second');
    assert.equal(c.stats().possibleLosses, 1, 'the unreadable GET reply may have carried an entry');
    await c.put('t', 'v');
    assert.equal(c.stats().possibleDuplicates, 1);
    await c.putMany('t', ['a', 'b', 'c']);
    assert.equal(c.stats().possibleDuplicates, 4, 'the 3 entries of the BATCH_PUT answered "OK 1" may be stored twice');
  });

  test('STATE and METRICS replies with fields of the wrong type are refused, not handed on (health said "healthy, leader evil")', async () => {
    const lies = new Map([
      ['METRICS', '{"id":1,"state":"Leader","current_leader":"evil"}'],
      ['STATE a', '{"current_segment":1,"leader_node":1,"last_sealed_entry_offset":0,"sealed_segments":null,"segment_leaders":{}}'],
      ['STATE b', '{"current_segment":1,"leader_node":"x","last_sealed_entry_offset":0,"sealed_segments":{},"segment_leaders":{}}'],
      ['STATE c', '{"current_segment":1,"leader_node":1,"last_sealed_entry_offset":0,"sealed_segments":{"1":-5},"segment_leaders":{}}'],
    ]);
    const node = await lyingNode((request) => lies.get(request) ?? stockAnswer(request));
    const c = client([node.address], { breaker: { failureThreshold: 10 } }); // five lies in a row would open it
    await assert.rejects(c.metrics(), protocolError(node.address, /"current_leader" is "evil", expected a node id or null/));
    const health = await c.health();
    assert.equal(health.nodes[0]!.healthy, false);
    assert.match(health.nodes[0]!.reason!, /^PROTOCOL_ERROR: .*current_leader/);
    await assert.rejects(c.state('a'), protocolError(node.address, /"sealed_segments" is null, expected an object of integers >= 0/));
    await assert.rejects(c.state('b'), protocolError(node.address, /"leader_node" is "x"/));
    await assert.rejects(c.state('c'), protocolError(node.address, /"sealed_segments" is \{"1":-5\}/));
    assert.equal((await c.state('d')).leaderNode, 1, 'the next call is served');
  });

  test('errors name the node and stay readable: a huge frame length, a garbled probe reply, a 60 KB ERR text', async () => {
    const header = (length: number) => Buffer.from(new Uint32Array([length]).buffer);
    const node = await lyingNode((request) => {
      if (request === 'GET huge') return header(0xffff_fffe); // nothing follows: the size alone must be refused
      if (request === 'GET max') return header(2 ** 31 - 1);
      if (request === 'BATCH_PUT') return 'WHAT';
      if (request.startsWith('PUT ')) return `ERR ${'x'.repeat(60_000)}`;
      return stockAnswer(request);
    });
    const c = client([node.address], { breaker: { failureThreshold: 100 } });
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 20; i++) {
      await assert.rejects(c.get(i % 2 ? 'huge' : 'max'), protocolError(node.address, /sent a frame length of \d+, outside 1\.\.65536; nothing was allocated/));
    }
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, 'no buffer was sized from a lying length');
    await assert.rejects(c.putMany('t', ['a', 'b']), protocolError(node.address, /^Unexpected reply to PROBE from node .*: "WHAT"\.$/));
    await assert.rejects(c.put('t', 'v'), (e: unknown) => {
      assert.ok(e instanceof WalrusError && e.code === 'SERVER_ERROR');
      assert.ok(e.message.length < 400, `a readable message, not ${e.message.length} characters`);
      assert.match(e.message, /xxx\.\.\. \(60000 characters\)" \(node 127\.0\.0\.1:\d+\)/);
      assert.equal(String(e.context.serverMessage).length, 60_000, 'the whole text is kept in the context');
      return true;
    });
    assert.equal(await c.get('next'), undefined, 'the next call is served');
  });

  test('a node that closes every connection as it opens does not get a reconnect storm from pool top-ups', async () => {
    let accepted = 0;
    const node = await startTcpPeer((socket) => {
      accepted++;
      socket.destroy();
    });
    peers.push(node);
    // min 4 with a 50 ms upkeep: the old top-up loop reopened ~7,000 connections a second here.
    const c = client([node.address], { pool: { min: 4, max: 4, idleTimeoutMs: 100 } });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.ok(accepted < 40, `${accepted} connections in 1.5 s`);
    await assert.rejects(c.put('t', 'v'), (e: unknown) => e instanceof WalrusError && e.retriable && e.context.node === node.address);
  });
});
