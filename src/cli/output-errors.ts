import { EXIT } from './command.js';

/**
 * Write errors of the process's stdout and stderr. Without a listener, a
 * failed write is an unhandled 'error' event: `walrus-stream graph | head -1`
 * (EPIPE once head exits) and `walrus-stream schema > /dev/full` (ENOSPC)
 * died with Node's stack trace and exit code 1, whatever the command.
 *
 * Now: a closed pipe (EPIPE) ends the output quietly and keeps the command's
 * exit code, as `consume | head -1` does (its reader took what it wanted);
 * any other failure of stdout is one line on stderr naming it, and exit
 * code 3 — the output is incomplete. A failing stderr has nowhere to be
 * reported: it only turns an exit code of 0 into 3.
 */
export interface OutputWatch {
  /** Waits for what was written to stdout, then the exit code, given the command's. */
  settle(code: number): Promise<number>;
}

type Stream = NodeJS.WritableStream & { destroyed?: boolean };

export function watchOutput(stdout: Stream, stderr: Stream, command: string | undefined): OutputWatch {
  let outError: NodeJS.ErrnoException | undefined;
  let errError: NodeJS.ErrnoException | undefined;
  let reported = false;
  const name = command === undefined || !/^[a-z][a-z-]*$/.test(command) ? 'walrus-stream' : `walrus-stream ${command}`;
  const report = (): void => {
    if (reported || outError === undefined || outError.code === 'EPIPE') return;
    reported = true;
    const what = outError.code === 'ENOSPC' || outError.code === 'EDQUOT'
      ? '; the disk (or quota) behind it is full: free space there, or send the output elsewhere, then run the command again'
      : '; send the output elsewhere (a file on another disk, or a pipe), then run the command again';
    try {
      stderr.write(`${name}: cannot write to standard output (${outError.message.replace(/\s*\n\s*/g, ' ')})${what}\n`);
    } catch {
      // stderr is gone as well: the exit code says it.
    }
  };
  stdout.on('error', (error: NodeJS.ErrnoException) => {
    outError ??= error;
    report();
    // An error after the command returned: its exit code must not say all was written.
    if (outError.code !== 'EPIPE' && process.exitCode === EXIT.OK) process.exitCode = EXIT.FAILURE;
  });
  stderr.on('error', (error: NodeJS.ErrnoException) => {
    errError ??= error;
  });
  return {
    async settle(code) {
      // A write that fails calls back (and emits 'error') on a later tick: wait for stdout to take
      // everything written so far, then one turn of the event loop for the event.
      if (!stdout.destroyed) await new Promise<void>((resolve) => { stdout.write('', () => resolve()); });
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (outError !== undefined && outError.code !== 'EPIPE') return code === EXIT.OK ? EXIT.FAILURE : code;
      if (errError !== undefined && errError.code !== 'EPIPE' && code === EXIT.OK) return EXIT.FAILURE;
      return code;
    },
  };
}
