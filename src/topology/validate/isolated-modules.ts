import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import pLimit from 'p-limit';
import { isCommonJs } from '../../processor/loader.js';
import type { DiagnosticList } from './diagnostics.js';
import type { ModuleCheckMessage, ModuleCheckResult } from './module-check-task.js';

/** Bounds of the import of one processor module by `validate`. */
export interface ModuleCheckOptions {
  /**
   * An import that has not finished after this long (a top-level await that
   * never settles, an endless loop) is stopped and the module reported as
   * broken. Counted from the moment the thread starts the import; the
   * thread's own start-up has a separate, fixed bound of 60 s.
   * @default 10000
   */
  moduleTimeoutMs?: number;
  /**
   * V8 heap limit of the thread importing a module: a module that allocates
   * without bound at import is stopped there and reported as broken.
   * @default 256
   */
  moduleMaxHeapMb?: number;
}

const ENTRY = new URL('./module-check-worker.mjs', import.meta.url);
/** Bound of the check thread's own start-up (tsx, the loader), which no module code delays. */
const STARTUP_LIMIT_MS = 60_000;

/** Which TypeScript loader a thread may register before it knows its module: a guess, never a decision. */
export type TypeScriptHint = 'module' | 'commonjs' | undefined;

/**
 * A guess, from the topology's text before it is parsed, at the TypeScript
 * loader its first TypeScript processor will need; undefined when none is
 * seen (or the file is not small). Only a head start: parsing decides.
 */
export function guessTypeScript(topologyFile: string): TypeScriptHint {
  try {
    // Only a regular file: a pipe (`<(...)`) read here would be empty for the parse, and /dev/zero never ends.
    const info = statSync(topologyFile);
    if (!info.isFile() || info.size > 256 * 1024) return undefined;
    const text = readFileSync(topologyFile, 'utf8');
    for (const match of text.matchAll(/\bmodule:\s*['"]?([^'"\s,}#]+\.[cm]?ts)\b/g)) {
      if (match[1]!.includes('$')) continue;
      return isCommonJs(resolve(dirname(topologyFile), match[1]!)) ? 'commonjs' : 'module';
    }
  } catch {
    // No file, no guess: loadTopology reports it.
  }
  return undefined;
}

interface Prestarted { worker: Worker; heapMb: number; messages: ModuleCheckMessage[]; startedAt: number; dead: boolean }
const prestarted: Prestarted[] = [];

/**
 * Starts a check thread before the module paths are known: `validate` does
 * so before it parses the topology, so the thread's start-up (Node's, the
 * loader's, tsx's when `typescript` guesses one is needed) overlaps the
 * parse instead of following it. The next {@link checkModulesIsolated} takes
 * it; one never taken is unreferenced and keeps nothing alive.
 */
export function prestartModuleCheck(typescript: TypeScriptHint, options: ModuleCheckOptions = {}): void {
  const heapMb = options.moduleMaxHeapMb ?? 256;
  const worker = new Worker(ENTRY, { workerData: { typescript }, resourceLimits: { maxOldGenerationSizeMb: heapMb } });
  const entry: Prestarted = { worker, heapMb, messages: [], startedAt: Date.now(), dead: false };
  worker.on('message', (message: ModuleCheckMessage) => entry.messages.push(message));
  // A thread that failed to start is not taken: the module gets a fresh one.
  worker.on('error', () => { entry.dead = true; });
  worker.on('exit', () => { entry.dead = true; });
  worker.unref();
  prestarted.push(entry);
}

/**
 * Imports each module in its own worker thread and checks it default-exports
 * a processor. Why a thread: importing runs the module's top-level code, and
 * a module that calls `process.exit(0)`, hangs or allocates without bound
 * must not end, hang or exhaust `validate` itself — that would fake a result
 * (exit 0 with no output). Each is reported as a broken module instead. The
 * thread is terminated once it answered, so timers a module leaves running
 * cannot keep `validate` alive either.
 */
export async function checkModulesIsolated(paths: Map<string, string>, out: DiagnosticList, options: ModuleCheckOptions = {}): Promise<void> {
  // Two at a time: a thread's start-up (tsx) dominates, and two bound the heap to 2 × moduleMaxHeapMb.
  // Each distinct file once: processors sharing a module share its result (500 processors of one module took 25 s).
  const limit = pLimit(2);
  const checked = new Map<string, Promise<ModuleCheckResult>>();
  for (const full of paths.values()) if (!checked.has(full)) checked.set(full, limit(() => checkInThread(full, options)));
  for (const [name, full] of paths) {
    const result = await checked.get(full)!;
    if (!result.ok) out.error(['processors', name, 'module'], `processors.${name}.module: ${result.message}`);
  }
}

/** A prestarted thread that is still usable (alive, same heap limit), or undefined. */
function takePrestarted(maxHeapMb: number): Prestarted | undefined {
  const index = prestarted.findIndex((p) => p.heapMb === maxHeapMb && !p.dead);
  if (index === -1) return undefined;
  const [taken] = prestarted.splice(index, 1);
  for (const event of ['message', 'error', 'exit']) taken!.worker.removeAllListeners(event);
  taken!.worker.ref();
  return taken;
}

function checkInThread(modulePath: string, options: ModuleCheckOptions): Promise<ModuleCheckResult> {
  const timeoutMs = options.moduleTimeoutMs ?? 10_000;
  const maxHeapMb = options.moduleMaxHeapMb ?? 256;
  return new Promise((resolve) => {
    const warm = takePrestarted(maxHeapMb);
    const worker = warm?.worker ?? new Worker(ENTRY, { workerData: { modulePath }, resourceLimits: { maxOldGenerationSizeMb: maxHeapMb } });
    if (warm) worker.postMessage({ modulePath });
    let settled = false;
    const settle = (result: ModuleCheckResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
      void worker.terminate();
    };
    const expire = (ms: number, what: string) => setTimeout(() => settle({ ok: false, message: `failed to load: ${what} did not finish within ${ms} ms` +
      (what === 'importing it' ? ' (a top-level await that never settles, or an endless loop, at import)' : '') }), ms);
    let timer = expire(Math.max(1, STARTUP_LIMIT_MS - (warm ? Date.now() - warm.startedAt : 0)), 'starting the thread that imports it');
    const onMessage = (message: ModuleCheckMessage): void => {
      if ('started' in message) {
        clearTimeout(timer);
        timer = expire(timeoutMs, 'importing it');
        return;
      }
      settle(message);
    };
    worker.on('message', onMessage);
    for (const message of warm?.messages ?? []) onMessage(message);
    worker.on('error', (error: Error & { code?: string }) => settle({
      ok: false,
      message: error.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? `failed to load: importing it used more than ${maxHeapMb} MB of heap (it allocates without bound at import)`
        : `failed to load: ${error.message.split('\n')[0]}`,
    }));
    worker.on('exit', (code) => settle({
      ok: false,
      message: `failed to load: the module ended its process (process.exit(${code})) while being imported; a processor module must not exit`,
    }));
  });
}
