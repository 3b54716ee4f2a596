/**
 * A full disk, said the same way by every part that writes one (the
 * embedded node, the journal, the state stores). Node's errors for a write
 * through a descriptor (`writeSync(fd, …)`) name neither the file nor what
 * to do: "ENOSPC: no space left on device, write".
 */

const FULL = new Set(['ENOSPC', 'EDQUOT']);

/** True when `error` (or its cause) says the file system, or the user's quota, is full. */
export function isDiskFull(error: unknown): boolean {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (FULL.has(String((e as { code?: unknown }).code))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * `error` with the file it was writing named, its `code` kept (so
 * {@link isDiskFull} still sees it), the original as `cause`. Anything but
 * an Error comes back as it was.
 */
export function withFile(error: unknown, path: string): unknown {
  if (!(error instanceof Error)) return error;
  const code = (error as NodeJS.ErrnoException).code;
  return Object.assign(new Error(`${error.message} (writing ${path})`, { cause: error }), { code, path });
}

/**
 * What an operator reads after a failure writing under `dir`: for a full
 * disk, what to do; for anything else, nothing. Starts with "; " so it can
 * follow the error text.
 */
export function diskFullAdvice(error: unknown, dir: string, after = 'start it again'): string {
  if (!isDiskFull(error)) return '';
  return `; the disk holding ${dir} is full: free space there (or move it to a larger disk), then ${after}. ` +
    'Nothing acknowledged was lost: what was not finished is taken up again at the next start';
}
