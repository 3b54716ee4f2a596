import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

export const stateFixture = (name: string) => fileURLToPath(new URL(`./fixtures/processors/${name}`, import.meta.url));

export interface CliRun { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/**
 * Runs `walrus-stream <args>` as a child process. `fault` arms a fault point
 * (WALRUS_STREAM_FAULT=<point>:<n>; never inherited otherwise). A child still
 * running after `timeoutMs` is SIGKILLed and the promise rejects, so a hang
 * fails the test instead of keeping the runner alive.
 */
export function runCli(args: string[], options: { fault?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.WALRUS_STREAM_FAULT;
  if (options.fault !== undefined) env.WALRUS_STREAM_FAULT = options.fault;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let timedOut = false;
    const deadline = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(deadline);
      if (timedOut) return reject(new Error(`walrus-stream ${args.join(' ')} did not finish in time; stderr:\n${stderr}`));
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Running totals of a keyed order stream: per record, its key's totals including it; and the final totals per key. */
export interface OrderTotals { prefix: Map<number, { n: number; sum: number }>; totals: Map<string, { n: number; sum: number }> }

/** What a count + sum by key must end with after `n` orders `order(i)` — the reference the crash tests compare to. */
export function expectedTotals(n: number, order: (i: number) => { key: string; value: { amount: number } }): OrderTotals {
  const totals = new Map<string, { n: number; sum: number }>();
  const prefix = new Map<number, { n: number; sum: number }>();
  for (let i = 0; i < n; i++) {
    const { key, value } = order(i);
    const t = totals.get(key) ?? { n: 0, sum: 0 };
    const next = { n: t.n + 1, sum: t.sum + value.amount };
    totals.set(key, next);
    prefix.set(i, next);
  }
  return { prefix, totals };
}
