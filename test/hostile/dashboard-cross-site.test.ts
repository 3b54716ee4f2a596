import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, chromiumReady } from '../helpers/chromium.js';
import { DeadLetterRing, MetricsHub, StatsSampler, createDashboard, startObservabilityServer } from '../../src/observability/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';

/**
 * Attack: a page of another site, open in the user's browser, makes the
 * browser send GETs to the dashboard on 127.0.0.1 (no-cors fetch, <img>).
 * It cannot read the answers, but before the fix the run did the work for
 * each one (20 store reads in this test; a store read loads the store
 * whole), as often as the page liked. Now a request whose Sec-Fetch-Site is
 * not same-origin or none is refused (but for a top-level navigation), and
 * the dashboard itself still works. Real Chromium, as in
 * dashboard-browser.test.ts.
 */

before(() => chromiumReady(), { timeout: 600_000 });

test('a page of another site cannot make the dashboard work for it; the dashboard\'s own page still can', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-cross-site-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const hub = new MetricsHub({ processMetrics: false });
  const sampler = new StatsSampler({ progress: () => hub.progress(), processors: () => ({}) }, { intervalMs: 200 });
  sampler.start();
  let storeReads = 0;
  const dashboard = createDashboard({
    topology: { app: 'x', stores: ['big'], nodes: [], edges: [], instance: { id: null, index: null, count: null }, partitioned: [] },
    sampler, deadLetters: new DeadLetterRing({ parse: parseDeadLetter }), replay: async () => ({ replayed: {}, results: [] }),
    browseStore: async (store) => { storeReads++; return { store, keys: 0, entries: [], truncated: false }; },
  });
  const server = await startObservabilityServer({ port: 0, metrics: hub, routes: dashboard.routes });
  const target = `http://127.0.0.1:${server.port}`;
  // "localhost" is another site than "127.0.0.1" for the browser.
  const evil = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>cats</title><img src="${target}/api/stores/big?limit=1000">
<script>
  Promise.allSettled(Array.from({ length: 20 }, (_, i) => fetch('${target}/api/stores/big?limit=' + (i + 1), { mode: 'no-cors' })))
    .then(() => { document.title = 'done'; });
</script>`);
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  t.after(async () => { await browser.close(); evil.close(); sampler.stop(); dashboard.close(); await server.close(); });
  const page = await browser.newPage();
  await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
  await page.waitForFunction("document.title === 'done'", undefined, { timeout: 20_000 });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(storeReads, 0, `the other site's page made the run read its store ${storeReads} times`);

  // The dashboard itself: a navigation from that page, then its own requests (same-origin).
  await page.goto(`${target}/`);
  // (A locator: the page's CSP forbids the eval a string predicate needs.)
  await page.locator('#connection').filter({ hasText: /^live$/ }).waitFor({ timeout: 20_000 });
  const answer = await page.evaluate(async () => { const res = await fetch('/api/stores/big?limit=3'); return res.status; });
  assert.equal(answer, 200);
  assert.equal(storeReads, 1);
});

test('a page of another site cannot make the run render /metrics or probe its nodes for /readyz; opening them still works', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-cross-site-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let renders = 0;
  let probes = 0;
  const server = await startObservabilityServer({
    port: 0,
    metrics: { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: async () => { renders++; return 'up 1\n'; } },
    readiness: async () => { probes++; await new Promise((r) => setTimeout(r, 5)); return { ready: true, checks: {} }; },
  });
  const target = `http://127.0.0.1:${server.port}`;
  const evil = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>cats</title><img src="${target}/readyz"><img src="${target}/metrics">
<script>
  (async () => {
    for (let i = 0; i < 10; i++) await Promise.allSettled(['/metrics', '/readyz'].map((p) => fetch('${target}' + p + '?' + i, { mode: 'no-cors' })));
    document.title = 'done';
  })();
</script>`);
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  t.after(async () => { await browser.close(); evil.close(); await server.close(); });
  const page = await browser.newPage();
  await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
  await page.waitForFunction("document.title === 'done'", undefined, { timeout: 20_000 });
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual({ renders, probes }, { renders: 0, probes: 0 }, 'the other site\'s page made the run do the work');
  // Opened by the user (a navigation), and asked by a scraper (no Sec-Fetch-* headers), they answer.
  assert.equal((await page.goto(`${target}/metrics`))?.status(), 200);
  assert.equal((await fetch(`${target}/readyz`)).status, 200);
  assert.deepEqual({ renders, probes }, { renders: 1, probes: 1 });
});
