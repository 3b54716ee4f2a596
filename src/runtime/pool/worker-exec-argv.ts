import { existsSync } from 'node:fs';

/**
 * The Node.js flags the pool's worker threads start with: the process's own
 * (`process.execArgv`, which a worker inherits by default), less a tsx
 * preload (`--import tsx`, `--loader tsx`, `--require tsx/cjs`, ...) when
 * the threads run the built worker.
 *
 * Why: a thread inheriting `--import tsx` installs tsx's CommonJS hook, and
 * piscina then `require`s the worker entry (an ES module) through it: tsx
 * compiles it with esbuild and loads tsx itself, ~250 ms of CPU in every
 * thread, every start (measured in a test process; a program run with
 * `node --import tsx app.ts` that starts a pipeline paid the same). The
 * built worker needs no loader: a processor written in TypeScript is loaded
 * by src/processor/loader.ts (compiled cache, or tsx registered in that
 * thread when needed). Running from the sources, the worker entry itself is
 * TypeScript, so the flags stay as they are. Other flags (`--require` of an
 * instrumentation, `--max-old-space-size`, ...) are always kept.
 */
export function workerExecArgv(execArgv: readonly string[], runsBuilt: boolean): string[] {
  if (!runsBuilt) return [...execArgv];
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i += 1) {
    const arg = execArgv[i]!;
    const inline = /^(--import|--loader|--experimental-loader|--require)=(.*)$/.exec(arg);
    if (inline !== null) {
      if (!isTsx(inline[2]!)) out.push(arg);
      continue;
    }
    if (PRELOAD_FLAGS.has(arg) && i + 1 < execArgv.length) {
      const value = execArgv[i + 1]!;
      if (!isTsx(value)) out.push(arg, value);
      i += 1;
      continue;
    }
    out.push(arg);
  }
  return out;
}

const PRELOAD_FLAGS = new Set(['--import', '--loader', '--experimental-loader', '--require', '-r']);

/** `tsx`, `tsx/esm`, `tsx/cjs`, or a path into a tsx package. */
function isTsx(specifier: string): boolean {
  return /^tsx(\/|$)/.test(specifier) || /[\\/]node_modules[\\/]tsx[\\/]/.test(specifier);
}

/**
 * Whether the pool's threads run the built worker: the entry sits next to
 * its compiled handler (dist/), or, from the sources, the test runner asked
 * for the build (WALRUS_STREAM_TEST_WORKER=built, src/runtime/worker/worker-entry.mjs).
 */
export function runsBuiltWorker(entry: URL): boolean {
  if (existsSync(new URL('./task-handler.js', entry))) return true;
  return process.env.WALRUS_STREAM_TEST_WORKER === 'built' && existsSync(new URL('../../../dist/esm/runtime/worker/worker-entry.mjs', entry));
}
