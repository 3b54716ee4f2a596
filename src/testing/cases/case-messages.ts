/**
 * Everything that crosses between `walrus-stream test` and the worker thread
 * that runs a test file's cases (./case-worker.ts), in one place.
 */
import type { SerializedError } from '../../errors/index.js';
import type { LogLevel } from '../../topology/types.js';
import type { CaseResult } from './run-cases.js';

export interface CaseWorkerData {
  file: string;
  cwd: string;
  env: Record<string, string | undefined>;
  /** Index of the first case to run (after a case that passed its deadline, the next worker goes on from there). */
  from: number;
  filter: string | undefined;
  logLevel: LogLevel;
  /** An Int32Array over it: see {@link STATUS}. Written by the worker, read after it ended or while it is stuck. */
  status: SharedArrayBuffer;
}

/** Slots of the status array. */
export const STATUS = {
  /** 1 once a processor called process.exit(). */
  EXIT_CALLED: 0,
  /** The code it passed (NaN-free: a non-numeric code is kept as 1). */
  EXIT_CODE: 1,
  /** 1 + index (in the topology's processors) of the processor last entered (init or process); 0: none yet. */
  PROCESSOR: 2,
} as const;
export const STATUS_SLOTS = 3;

export type CaseWorkerMessage =
  /** The test file loaded: its cases (every one, filtered or not) and the topology's processors. */
  | { kind: 'loaded'; cases: Array<{ name: string; line: number }>; processors: string[] }
  /** It did not: a WalrusError as data (TEST_FILE_INVALID, TOPOLOGY_INVALID with their diagnostics), or another error's message and stack. */
  | { kind: 'load-failed'; error: SerializedError | undefined; message: string; stack: string | undefined }
  | { kind: 'start'; index: number }
  | { kind: 'result'; index: number; result: CaseResult }
  | { kind: 'done' };
