import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { ClaimBook } from '../../src/broker/claims.js';
import { WalrusClient } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { claimOwnership } from '../../src/runtime/pipeline/ownership.js';

test('CLAIM takes, renews and refuses an ownership lease; it expires after its ttl; UNCLAIM frees it', () => {
  let now = 1_000;
  const book = new ClaimBook(() => now);
  const claim = (name: string, rest: string) => book.claim(name, Buffer.from(rest)).subarray(4).toString();
  assert.equal(claim('in.p0', 'a/0/x 500'), 'OK');
  assert.equal(claim('in.p0', 'a/0/x 500'), 'OK', 'the owner renews');
  now += 200;
  assert.equal(claim('in.p0', 'a/0/y 500'), 'ERR claimed by a/0/x for 300 ms more');
  assert.equal(claim('in.p1', 'a/0/y 500'), 'OK', 'another name is free');
  now += 300;
  assert.equal(claim('in.p0', 'a/0/y 500'), 'OK', 'expired: taken over');
  assert.equal(book.unclaim('in.p0', Buffer.from('a/0/x')).subarray(4).toString(), 'ERR claimed by a/0/y for 500 ms more', 'only the holder releases');
  assert.equal(book.unclaim('in.p0', Buffer.from('a/0/y')).subarray(4).toString(), 'OK');
  assert.equal(claim('in.p0', 'a/0/x 500'), 'OK');
  assert.match(claim('in.p0', 'a/0/x 5'), /^ERR invalid CLAIM ttl "5": milliseconds from 100 to 600000$/);
  assert.match(claim('in.p0', 'a b 500'), /^ERR invalid CLAIM: expected CLAIM <name> <owner> <ttl_ms> \[renew\]$/);
  assert.match(book.claim('in.p0', undefined).subarray(4).toString(), /^ERR CLAIM requires an owner/);
});

test('on the wire: default mode answers CLAIM, stock mode does not know it; the client maps a conflict to OWNERSHIP_CONFLICT', async () => {
  await withBroker({ compat: 'stock' }, async (node) => {
    const raw = await RawClient.connect(node.port);
    assert.equal(await raw.request('CLAIM in.p0 a 1000'), 'ERR unknown command');
    raw.close();
    const client = new WalrusClient({ nodes: [node.address] });
    assert.equal(await client.claim('in.p0', 'a', 1000), false, 'a stock node: unsupported, nothing checked');
    assert.equal(client.capabilities().claims, false);
    await client.close();
  });
  await withBroker(async (node) => {
    const raw = await RawClient.connect(node.port);
    assert.equal(await raw.request('CLAIM'), 'ERR CLAIM requires a topic');
    raw.close();
    const a = new WalrusClient({ nodes: [node.address] });
    const b = new WalrusClient({ nodes: [node.address] });
    assert.equal(await a.claim('in.p0', 'app/0/aaaa', 1000), true);
    await assert.rejects(b.claim('in.p0', 'app/0/bbbb', 1000), (e: unknown) => e instanceof WalrusError && e.code === 'OWNERSHIP_CONFLICT'
      && e.context?.holder === 'app/0/aaaa' && !e.retriable);
    await a.unclaim('in.p0', 'app/0/aaaa');
    assert.equal(await b.claim('in.p0', 'app/0/bbbb', 1000), true);
    await a.close();
    await b.close();
  });
});

test('claimOwnership: a live holder refuses the start (after waiting out one ttl); a dead holder\'s leases expire and are taken', async () => {
  await withBroker(async (node) => {
    const client = new WalrusClient({ nodes: [node.address] });
    const first = await claimOwnership(client, ['o.p0', 'o.p2'], { label: 'app/0', ttlMs: 300, onUnsupported: assert.fail, onLost: assert.fail });
    const started = Date.now();
    await assert.rejects(claimOwnership(client, ['o.p2'], { label: 'app/0', ttlMs: 300, onUnsupported: assert.fail, onLost: assert.fail }),
      (e: unknown) => e instanceof WalrusError && e.code === 'OWNERSHIP_CONFLICT' && /partition topic "o\.p2" is owned by another live process \(app\/0\/[0-9a-f]{8}/.test(e.message));
    assert.ok(Date.now() - started >= 200, 'it waited for the lease to expire once; the holder renewed meanwhile');
    // A holder that stops renewing (a killed process) loses its leases after the ttl.
    await first.release();
    await client.claim('o.p0', 'dead/0/0', 300);
    const second = await claimOwnership(client, ['o.p0'], { label: 'app/0', ttlMs: 300, onUnsupported: assert.fail, onLost: assert.fail });
    assert.deepEqual(second.topics, ['o.p0']);
    // A renewal that finds another owner reports the loss.
    await second.release();
    const lost: WalrusError[] = [];
    const third = await claimOwnership(client, ['o.p1'], { label: 'app/1', ttlMs: 300, onUnsupported: assert.fail, onLost: (e) => lost.push(e) });
    await client.unclaim('o.p1', third.owner);
    await client.claim('o.p1', 'thief/1/0', 600_000);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(lost[0]?.code, 'OWNERSHIP_CONFLICT');
    await third.release();
    await client.close();
  });
});

test('CLAIM ... renew renews only a claim that stayed the owner\'s: once another owner took it (even released since) it is lost', () => {
  let now = 1_000;
  const book = new ClaimBook(() => now);
  const claim = (name: string, rest: string) => book.claim(name, Buffer.from(rest)).subarray(4).toString();
  assert.equal(claim('in.p0', 'a/0/x 500 renew'), 'OK', 'a name the node does not know (it restarted) is claimed afresh');
  now += 2_000;
  assert.equal(claim('in.p0', 'a/0/x 500 renew'), 'OK', 'expired, but nobody took it: still the owner\'s');
  now += 2_000;
  assert.equal(claim('in.p0', 'a/0/y 500'), 'OK', 'expired: taken over');
  assert.equal(claim('in.p0', 'a/0/x 500 renew'), 'ERR claim lost to a/0/y');
  assert.equal(book.unclaim('in.p0', Buffer.from('a/0/y')).subarray(4).toString(), 'OK');
  assert.equal(claim('in.p0', 'a/0/x 500 renew'), 'ERR claim lost to a/0/y', 'released since: still lost');
  assert.equal(claim('in.p0', 'a/0/x 500'), 'OK', 'a plain CLAIM takes a released name');
  assert.match(claim('in.p0', 'a/0/x 500 again'), /^ERR invalid CLAIM: expected/);
});

test('claimOwnership fences: after a lapse (a frozen process) reads and writes wait for a renewal; a claim lost meanwhile rejects them', async () => {
  await withBroker(async (node) => {
    const client = new WalrusClient({ nodes: [node.address] });
    let now = 0;
    const lost: WalrusError[] = [];
    const held = await claimOwnership(client, ['f.p0'], { label: 'app/0', ttlMs: 60_000, now: () => now, onUnsupported: assert.fail, onLost: (e) => lost.push(e) });
    assert.equal(held.fence(), undefined, 'a fresh lease: nothing waits');
    now = 47_000;
    assert.equal(held.fence(), undefined, 'within 80% of the ttl');
    now = 49_000;
    const wait = held.fence();
    assert.ok(wait, 'past it: reads and writes wait');
    await wait;
    assert.equal(held.fence(), undefined, 'the renewal confirmed the lease: nothing waits');
    // Frozen past the ttl while another owner took it (and let go): the renewal finds out, waiters fail.
    now = 200_000;
    await client.unclaim('f.p0', held.owner); // the node's lease ran out (its clock is real)
    await client.claim('f.p0', 'other/0/0', 100);
    await client.unclaim('f.p0', 'other/0/0');
    await assert.rejects(held.fence()!, (e: unknown) => e instanceof WalrusError && e.code === 'OWNERSHIP_CONFLICT'
      && /was lost to other\/0\/0 .*had not renewed its lease for 151\.0 s, longer than its 60\.0 s time to live/.test(e.message));
    assert.equal(lost.length, 1);
    await assert.rejects(held.fence()!, /was lost/, 'and stays lost');
    await held.release();
    await client.close();
  });
});

test('claimOwnership with a layout: another layout is refused as such; a client that is no instance holding the name is named as that', async () => {
  await withBroker(async (node) => {
    const client = new WalrusClient({ nodes: [node.address] });
    // A conflict first waits once for the holder's lease to run out (a killed instance): not 60 s here.
    let waits = 0;
    const options = { label: 'x/0', ttlMs: 60_000, onUnsupported: assert.fail, onLost: assert.fail, sleep: async () => { waits += 1; } };
    const first = await claimOwnership(client, ['x.p0'], { ...options, layout: { name: 'x.layout', token: 'layout/aaaa' } });
    await assert.rejects(claimOwnership(client, ['x.p1'], { ...options, layout: { name: 'x.layout', token: 'layout/bbbb' } }),
      /another instance of this app runs a different layout, or stopped less than its lease's time to live ago \(layout\/aaaa; this one is layout\/bbbb\): the claim expires in \d+\.\d s if none of them runs any more/);
    const same = await claimOwnership(client, ['x.p1'], { ...options, layout: { name: 'x.layout', token: 'layout/aaaa' } });
    await client.claim('y.layout', 'squatter/0/0', 600_000);
    await assert.rejects(claimOwnership(client, ['y.p0'], { ...options, layout: { name: 'y.layout', token: 'layout/cccc' } }),
      /the name "y\.layout", which every instance of this app claims .* is held by squatter\/0\/0, which is not an instance of it/);
    assert.equal(waits, 1, 'the other layout was waited for once (its lease could have been a killed instance\'s), then refused; the squatter\'s 10-minute lease was not');
    await first.release();
    await same.release();
    await client.close();
  });
});
