import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspectStore } from '../../src/state/index.js';
import { fixture } from './harness.js';

const bin = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

export interface CliRun { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs the CLI as a real process; resolves with its exit code (or the signal that killed it) and output. */
export function cli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c; });
  child.stderr.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-6_000); });
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** One customer's figures, as the `state-count.ts` fixture keeps them. */
export interface Totals { n: number; sum: number }

/** `keys` customers × `perKey` orders, as JSON lines `{k, amount, i}`, interleaved by key. */
export function orders(keys: number, from: number, to: number): Array<{ k: string; amount: number; i: number }> {
  const out: Array<{ k: string; amount: number; i: number }> = [];
  for (let i = from; i < to; i += 1) for (let c = 0; c < keys; c += 1) out.push({ k: `c-${c}`, amount: ((c * 7 + i) % 13) + 1, i });
  return out;
}

/** What a single counter over all of `lines` ends with. */
export function expectedTotals(lines: ReadonlyArray<{ k: string; amount: number }>): Map<string, Totals> {
  const totals = new Map<string, Totals>();
  for (const { k, amount } of lines) {
    const t = totals.get(k) ?? { n: 0, sum: 0 };
    totals.set(k, { n: t.n + 1, sum: t.sum + amount });
  }
  return totals;
}

/**
 * A keyed stateful topology: a source partitioned by customer, counted and
 * summed per customer in store `totals` with the same partitions.
 */
export async function writeTopology(file: string, app: string, stateDir: string, topic: string, partitions = 4): Promise<void> {
  await writeFile(file, `
app: ${app}
stateDir: ${stateDir}
workers: 1
sources:
  in: { topic: ${topic}, partitions: ${partitions}, poll: { batchSize: 16, minInterval: 1ms, maxInterval: 10ms } }
processors:
  count: { module: ${fixture('state-count.ts')}, input: in, ordering: key, concurrency: 4, stores: [totals] }
stores:
  totals: { partitions: ${partitions}, fsync: never }
observability: { logLevel: warn }
`);
}

/** The partitions an instance recorded as held at its last start. */
export async function ownedAtLastStart(stateDir: string, app: string, instance?: number): Promise<number[]> {
  const file = instance === undefined ? join(stateDir, app, 'partitions.json') : join(stateDir, app, 'instances', String(instance), 'partitions.json');
  const record = JSON.parse(await readFile(file, 'utf8')) as { stores: Record<string, { owned: number[] }> };
  return record.stores.totals!.owned;
}

/** The `totals` an instance holds: the store partitions it owned at its last start, read from their files. */
export async function instanceTotals(stateDir: string, app: string, instance?: number): Promise<Map<string, Totals>> {
  const totals = new Map<string, Totals>();
  for (const p of await ownedAtLastStart(stateDir, app, instance)) {
    const dir = join(stateDir, app, 'state', 'totals', `p${p}`);
    if (!existsSync(dir)) continue;
    const { entries } = await inspectStore(dir, 'totals');
    for (const { key, value } of entries) totals.set(key, value as Totals);
  }
  return totals;
}

/** Every key of `parts` once: throws naming a key two instances hold. */
export function union(parts: ReadonlyArray<Map<string, Totals>>): Map<string, Totals> {
  const all = new Map<string, Totals>();
  for (const [i, part] of parts.entries()) {
    for (const [key, value] of part) {
      if (all.has(key)) throw new Error(`key ${key} is in two instances (the second: ${i})`);
      all.set(key, value);
    }
  }
  return all;
}

/** The map as sorted entries, for deepEqual with a readable diff. */
export function sorted(map: Map<string, Totals>): Array<[string, Totals]> {
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
