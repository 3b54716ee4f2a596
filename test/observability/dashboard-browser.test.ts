import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, chromiumReady } from '../helpers/chromium.js';

// The dashboard, proven in a real browser: headless Chromium (Debian's
// `chromium` package; never a downloaded one) against a real `run` of the
// bundled example. No skip when the browser is missing: the test fails and
// says how to install it (`.ci/run` does, while the other tests run: the
// hook waits for it).
before(() => chromiumReady(), { timeout: 600_000 });
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];
const root = fileURLToPath(new URL('../..', import.meta.url));
/** Screenshots land here (gitignored); WALRUS_TEST_ARTIFACTS moves them. */
const artifacts = process.env.WALRUS_TEST_ARTIFACTS ?? join(root, 'test-artifacts');

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A `walrus-stream run` of `topologyFile` in `dir` (an embedded node under its state dir), its stderr and exit. */
function startRun(dir: string, topologyFile: string, args: string[]) {
  const run = spawn(process.execPath, [join(root, 'bin/walrus-stream.js'), 'run', topologyFile, '--metrics-address', '127.0.0.1:0', '--progress-interval', '0', ...args], {
    cwd: dir, env: { ...process.env, WALRUS_STATE_DIR: join(dir, 'state') }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stderr: '' };
  run.stderr.on('data', (chunk: Buffer) => { out.stderr += chunk.toString('utf8'); });
  const exited = new Promise<number | null>((resolve) => run.on('exit', (code) => resolve(code)));
  return { run, out, exited };
}

function launch(dir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(join(dir, 'browser-profile'), {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1400, height: 1000 },
  });
}

const processedOf = async (page: Page, processor: string): Promise<number> => {
  const text = await page.locator(`g[data-node="processor:${processor}"] text.stat-rate`).textContent();
  const match = /([\d,]+) done/.exec(text ?? '');
  return match ? Number(match[1]!.replace(/,/g, '')) : -1;
};

test('the dashboard of a running example shows the graph, rising counts and dead letters, and replays one', { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-dashboard-'));
  // The bundled example as it is, except the source is paced (250 records/s, ~8 s for the
  // 2,000 orders) so the run lasts long enough to watch even on a loaded machine, and its module paths point at the repository's processors.
  const example = await readFile(join(root, 'topology.yaml'), 'utf8');
  const paced = example
    .replace(/module: \.\/processors\//g, `module: ${join(root, 'processors')}/`)
    .replace(/(\n {4}serializer: string.*\n)/, '$1    rateLimit: 250\n');
  assert.match(paced, /rateLimit: 250/);
  const topologyFile = join(dir, 'topology.yaml');
  await writeFile(topologyFile, paced);

  const { run, out, exited } = startRun(dir, topologyFile, ['--seed', `orders=${join(root, 'examples/orders.jsonl')}`, '--workers', '2']);
  const context = await launch(dir);
  try {
    const url = await until('the dashboard address on stderr', async () => /dashboard: (http:\/\/\S+\/)/.exec(out.stderr)?.[1]);
    const page = context.pages()[0] ?? await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(url);

    // The graph shows the four processors of the example.
    await page.locator('g.node.processor').first().waitFor();
    const names = await page.locator('g.node.processor text.name').allTextContents();
    assert.deepEqual(names.sort(), ['enrich', 'parse', 'revenue', 'route']);
    assert.equal(await page.locator('g.node.source').count(), 1);
    assert.equal(await page.locator('g.node.sink').count(), 3);

    // Counts rise while the page is open (over Server-Sent Events, no reload).
    const first = await until('a first count of parse', async () => { const n = await processedOf(page, 'parse'); return n >= 0 ? n : undefined; });
    const later = await until('the count of parse to rise', async () => { const n = await processedOf(page, 'parse'); return n > first ? n : undefined; });
    assert.ok(later > first);
    assert.equal(await page.locator('#connection').textContent(), 'live');

    // A dead letter appears with its reason (the example's malformed lines).
    const row = page.locator('#dlq-table tbody tr').first();
    await row.waitFor({ timeout: 20_000 });
    assert.equal(await row.locator('td.processor').textContent(), 'parse');
    assert.equal(await row.locator('td.code').textContent(), 'NON_RETRIABLE');
    assert.match((await row.locator('td.message').textContent()) ?? '', /malformed JSON|invalid order/);
    const deadLetterId = Number(await row.getAttribute('data-id'));

    // Replaying one goes through a confirmation and shows the result.
    await row.locator('input.pick').check();
    await page.locator('#dlq-replay').click();
    await page.locator('#confirm').waitFor({ state: 'visible' });
    assert.match((await page.locator('#confirm-text').textContent()) ?? '', /Replay 1 dead letter/);
    await page.locator('#confirm-ok').click();
    await until('the replay result', async () => (/replayed 1 of 1 \(1 to orders\)/.test((await page.locator('#replay-result').textContent()) ?? '') ? true : undefined));
    assert.equal(await page.locator(`#dlq-table tr[data-id="${deadLetterId}"] td.replays`).textContent(), '1');

    // The replayed entry went back through the pipeline: still malformed, it is dead-lettered
    // again, with the same record id.
    const replayed = await page.evaluate(async (id) => {
      const all = await (await fetch('/api/dead-letters')).json() as { items: Array<{ id: number; recordId: string }> };
      return all.items.find((d) => d.id === id)?.recordId;
    }, deadLetterId);
    await until('the replayed record to be dead-lettered again', () => page.evaluate(async ([id, recordId]) => {
      const all = await (await fetch('/api/dead-letters')).json() as { items: Array<{ id: number; recordId: string }> };
      return all.items.some((d) => d.id > id && d.recordId === recordId) ? true : undefined;
    }, [deadLetterId, replayed] as const), 60_000); // it queues behind the orders not yet read

    // The state store browser finds a customer's revenue windows by key prefix.
    await page.locator('#store-prefix').fill('c-0');
    await page.locator('#store-search').click();
    await until('store rows', async () => ((await page.locator('#store-table tbody tr').count()) > 0 ? true : undefined));
    assert.match((await page.locator('#store-table tbody tr td.key').first().textContent()) ?? '', /^c-0/);

    // Stage groups: enrich, route and revenue run fused in one worker task, drawn in one box.
    assert.equal(await page.locator('g.group[data-group="enrich"] text').textContent(), 'stage group enrich');
    assert.equal(await page.locator('g.group').count(), 1, 'a group of one (parse) gets no box');

    await mkdir(artifacts, { recursive: true });
    const shot = join(artifacts, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok((await readFile(shot)).length > 10_000, 'the screenshot is written');
    assert.deepEqual(pageErrors, []);
  } catch (error) {
    // What the run printed says more than a timeout does.
    (error as Error).message += `\n--- run stderr (last 3000 chars) ---\n${out.stderr.slice(-3000)}`;
    throw error;
  } finally {
    await context.close();
    run.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
});

test('the dashboard of instance 1 of 2 shows the instance, the partitions it owns and their lag, live', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-dashboard-'));
  // The example's orders in a source of 4 partitions (the seed spreads its 2,000 lines
  // round-robin: 500 each), parsed into a sink of 4 partitions. Instance 1 of 2 reads
  // partitions 1 and 3, paced at 60 records/s so the lag is watched as it falls.
  const topologyFile = join(dir, 'topology.yaml');
  await writeFile(topologyFile, `
app: orders-partitioned
stateDir: \${WALRUS_STATE_DIR}
workers: 1
cluster:
  embedded:
    dataDir: \${WALRUS_STATE_DIR}/node
sources:
  orders: { topic: orders, format: text, serializer: string, partitions: 4, rateLimit: 60 }
processors:
  parse: { module: ${join(root, 'processors/parse.ts')}, input: orders, deadLetter: orders.dlq }
sinks:
  parsed: { topic: orders.parsed, input: parse, partitions: 4 }
observability: { logLevel: warn }
`);
  const { run, out, exited } = startRun(dir, topologyFile, ['--seed', `orders=${join(root, 'examples/orders.jsonl')}`, '--instances', '2', '--instance', '1']);
  const context = await launch(dir);
  try {
    const url = await until('the dashboard address on stderr', async () => /dashboard: (http:\/\/\S+\/)/.exec(out.stderr)?.[1]);
    const page = context.pages()[0] ?? await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(url);

    const source = page.locator('g[data-node="source:orders"]');
    await source.waitFor();
    assert.equal(await page.locator('#instance').textContent(), 'instance 1 of 2');
    assert.equal(await source.locator('text.partitions').textContent(), '4 partitions · owns p1, p3');
    assert.equal(await page.locator('g[data-node="sink:parsed"] text.partitions').textContent(), '4 partitions · writes by key');
    const row = page.locator('#partition-table tr[data-partitioned="source:orders"]');
    assert.equal(await row.locator('td.owned').textContent(), 'p1, p3');
    assert.equal(await page.locator('#partition-table tr[data-partitioned="sink:parsed"] td.owned').textContent(), 'writes every partition, by key');

    // Each owned partition's lag, as the node reports it (every 5 s); the other instance's
    // partitions keep all 500 of theirs: nothing reads them here.
    const lagText = async () => (await source.locator('text.partition-lag').textContent()) ?? '';
    const first = await until('the lag of partitions 1 and 3', async () => (/^lag p1 [\d,]+ · p3 [\d,]+$/.test(await lagText()) ? lagText() : undefined), 30_000);
    // (A report taken while the seed is still writing shows fewer: wait for the full 500.)
    await until('the lag of the other instance\'s partitions in the table', async () =>
      (/^lag p1 [\d,]+ · p3 [\d,]+ · not owned: p0 500 · p2 500$/.test((await row.locator('td.lag').textContent()) ?? '') ? true : undefined), 30_000);
    // Live: the next report (no reload) shows the owned partitions being read.
    await until('the owned partitions\' lag to change', async () => ((await lagText()) !== first ? true : undefined), 30_000);

    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'dashboard-partitions.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  } catch (error) {
    (error as Error).message += `\n--- run stderr (last 3000 chars) ---\n${out.stderr.slice(-3000)}`;
    throw error;
  } finally {
    await context.close();
    run.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
});
