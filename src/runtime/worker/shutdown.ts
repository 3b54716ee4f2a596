import { WalrusError } from '../../errors/index.js';

/**
 * Shutdown's abort point, as this worker thread knows it. Past it
 * (`pool.abortAll` at `stop({ abortAfterMs })`, the CLI's half
 * `--shutdown-timeout`), the signal of every record inside a processor fires,
 * and no processor call starts any more: a record that reaches a processor
 * afterwards — the rest of a batch, a batch the coordinator sends later, a
 * retry — fails at once with SHUTTING_DOWN without running, and the
 * coordinator leaves it in the journal (or unacknowledged on the node) for
 * the next start. Before this, such records ran in full, so a stop waited for
 * every record still queued, however long each took.
 */
let aborted: WalrusError | undefined;

/** Marks the thread as past the abort point; returns the error records fail with. */
export function abortProcessing(reason: string): WalrusError {
  aborted ??= new WalrusError('SHUTTING_DOWN', `record processing aborted: ${reason}`);
  return aborted;
}

/** The abort error once the thread is past the abort point, else undefined. */
export function processingAborted(): WalrusError | undefined {
  return aborted;
}
