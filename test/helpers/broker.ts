import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startBroker, type BrokerHandle, type BrokerOptions } from '../../src/broker/index.js';

/** An embedded node on port 0 in a fresh temp dir; `close()` also removes the dir. */
export interface TestBroker extends BrokerHandle {
  readonly dataDir: string;
}

/**
 * Starts an embedded node for a test: 127.0.0.1, port 0, a new temp data
 * dir (unless `dataDir` is given, which is then kept on close), fsync
 * `never` unless asked (tests measure behaviour, not disk latency).
 */
export async function startTestBroker(options: BrokerOptions = {}): Promise<TestBroker> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'walrus-broker-')));
  let node: BrokerHandle;
  try {
    node = await startBroker({ host: '127.0.0.1', port: 0, fsync: 'never', ...options, dataDir });
  } catch (error) {
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    get host() { return node.host; },
    get port() { return node.port; },
    get address() { return node.address; },
    options: node.options,
    warnings: node.warnings,
    dataDir,
    stats: () => node.stats(),
    closed: node.closed,
    get failure() { return node.failure; },
    get recovery() { return node.recovery; },
    close: () => {
      closing ??= node.close().finally(() => (ownDir ? rm(dataDir, { recursive: true, force: true }) : undefined));
      return closing;
    },
  };
}

/**
 * Runs `fn` against a fresh test node and always closes it.
 *
 * @example
 * await withBroker({ compat: 'stock' }, async (node) => { ... });
 */
export async function withBroker<T>(options: BrokerOptions, fn: (node: TestBroker) => Promise<T>): Promise<T>;
export async function withBroker<T>(fn: (node: TestBroker) => Promise<T>): Promise<T>;
export async function withBroker(): Promise<TestBroker>;
export async function withBroker<T>(
  a?: BrokerOptions | ((node: TestBroker) => Promise<T>),
  b?: (node: TestBroker) => Promise<T>,
): Promise<T | TestBroker> {
  const options = typeof a === 'function' ? {} : (a ?? {});
  const fn = typeof a === 'function' ? a : b;
  const node = await startTestBroker(options);
  if (!fn) return node;
  try {
    return await fn(node);
  } finally {
    await node.close();
  }
}

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

/**
 * Runs `walrus-stream broker --port 0 --json <args>` as a child process
 * (for tests that kill it or measure its memory) and resolves once it
 * printed its address. The caller kills the child. `env` is added to this
 * process's environment (e.g. `WALRUS_STREAM_FAULT`).
 */
export async function spawnBrokerProcess(args: string[], env?: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number; address: string }> {
  // A single-value option is given once (twice is a usage error): --port 0 unless the caller names a port.
  const argv = [BIN, 'broker', ...(args.includes('--port') ? [] : ['--port', '0']), '--json', ...args];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'], ...(env ? { env: { ...process.env, ...env } } : {}) });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<{ port: number; address: string }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`walrus-stream broker exited early with code ${code}`)));
    // Recovery repairs are reported as events before `listening`.
    const onLine = (line: string): void => {
      const event = JSON.parse(line) as { event: string; port: number; address: string };
      if (event.event !== 'listening') return;
      lines.off('line', onLine);
      resolve(event);
    };
    lines.on('line', onLine);
  });
  return { child, ...ready };
}
