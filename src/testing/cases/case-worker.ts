/**
 * The worker thread that runs a test file's cases for `walrus-stream test`
 * (./case-threads.ts starts it): it loads the test file (importing its
 * topology's processors: in this thread only, so the command's thread never
 * runs processor code) and runs the cases from `from` on, one at a time,
 * saying when each starts and how it ended. It runs in a thread so that a processor
 * stuck in a synchronous loop (`for (;;) {}` in init or process), which no
 * timer of its own thread can interrupt, can be stopped by terminating it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WalrusError, serializeError } from '../../errors/index.js';
import { watchProcessorEntry } from '../in-process-runner.js';
import { loadTestFile } from './case-file.js';
import { STATUS, type CaseWorkerData, type CaseWorkerMessage } from './case-messages.js';
import { runCases } from './run-cases.js';

const data = workerData as CaseWorkerData;
const status = new Int32Array(data.status);
const post = (message: CaseWorkerMessage) => parentPort!.postMessage(message);

// A processor's process.exit() ends this thread only: recorded first, so the command can say so.
const realExit = process.exit;
process.exit = ((code?: number | string | null) => {
  const n = Number(code ?? process.exitCode ?? 0);
  Atomics.store(status, STATUS.EXIT_CODE, Number.isInteger(n) ? n : 1);
  Atomics.store(status, STATUS.EXIT_CALLED, 1);
  return realExit.call(process, code);
}) as typeof process.exit;

async function runFile(): Promise<void> {
  let loaded;
  try {
    loaded = await loadTestFile(data.file, data.cwd, data.env);
  } catch (error) {
    post({ kind: 'load-failed', error: error instanceof WalrusError ? serializeError(error) : undefined,
      message: (error as Error)?.message ?? String(error), stack: (error as Error)?.stack });
    return;
  }
  const names = Object.keys(loaded.topology.processors);
  post({ kind: 'loaded', cases: loaded.cases.map((c) => ({ name: c.name, line: c.line })), processors: names });
  watchProcessorEntry((name) => Atomics.store(status, STATUS.PROCESSOR, names.indexOf(name) + 1));
  for (let index = data.from; index < loaded.cases.length; index++) {
    const c = loaded.cases[index]!;
    if (data.filter !== undefined && !c.name.includes(data.filter)) continue;
    Atomics.store(status, STATUS.PROCESSOR, 0);
    post({ kind: 'start', index });
    const [result] = await runCases({ ...loaded, cases: [c] }, { logLevel: data.logLevel });
    post({ kind: 'result', index, result: result! });
  }
  post({ kind: 'done' });
}

await runFile();
