/**
 * A full disk, said the same way by every part that writes one (the
 * embedded node, the journal, the state stores). Node's errors for a write
 * through a descriptor (`writeSync(fd, …)`) name neither the file nor what
 * to do: "ENOSPC: no space left on device, write".
 */

const FULL = new Set(['ENOSPC', 'EDQUOT']);
/** A write past the largest file this process may write (`ulimit -f`, RLIMIT_FSIZE, SIGXFSZ ignored). */
const TOO_LARGE = new Set(['EFBIG']);

/**
 * True when `error` (or its cause) says the file system, or the user's
 * quota, is full, or the file reached the process's file-size limit
 * (EFBIG): either way nothing more fits until the operator acts.
 */
export function isDiskFull(error: unknown): boolean {
  return codeIn(error, FULL) || codeIn(error, TOO_LARGE);
}

function codeIn(error: unknown, codes: ReadonlySet<string>): boolean {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (codes.has(String((e as { code?: unknown }).code))) return true;
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
 * disk or a file-size limit reached, what to do; for anything else, nothing. Starts with "; " so it can
 * follow the error text.
 */
export function diskFullAdvice(error: unknown, dir: string, after = 'start it again'): string {
  const lost = 'Nothing acknowledged was lost: what was not finished is taken up again at the next start';
  if (codeIn(error, FULL)) return `; the disk holding ${dir} is full: free space there (or move it to a larger disk), then ${after}. ${lost}`;
  if (codeIn(error, TOO_LARGE)) {
    return `; a file under ${dir} reached the largest file this process may write (the file-size limit, \`ulimit -f\`): ` +
      `raise it (\`ulimit -f unlimited\` in the shell or service that starts it), then ${after}. ${lost}`;
  }
  return '';
}
