import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, realpath, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { WalrusError } from '../../errors/index.js';
import { payloadProblem } from '../../protocol/index.js';
import { diskFullAdvice } from '../../util/disk-full.js';

/** A seed file checked by {@link scanSeedFile}: what the second pass reads, and what it must find there. */
export interface SeedScan {
  /** The file as named (in messages). */
  file: string;
  /** What the second pass reads: the file itself, or the spool a pipe was copied to. */
  read: string;
  /** The spool file, to remove once loaded; undefined for a regular file. */
  spool?: string | undefined;
  /** sha256 of the file's bytes. */
  digest: string;
  /** Its entries (non-empty lines). */
  entries: number;
  maxLineBytes: number;
  /** A regular file: the bytes it had when opened, the only ones either pass reads. */
  bytes?: number | undefined;
}

/** Options of {@link scanSeedFile}. */
export interface SeedScanOptions {
  /**
   * Free bytes a spool must leave on the file system holding it, beyond room
   * to load what it copied: past that, spooling stops with an error and the
   * spool is removed. @default {@link spoolReserve}
   */
  spoolReserveBytes?: number;
}

/** How many spooled bytes between two free-space checks; the spool stops while at least this much is left. */
export const SPOOL_CHECK_BYTES = 4 * 1024 * 1024;

/**
 * The free space a spool leaves on its file system by default, beyond room
 * for loading what it copied: 1% of the file system, at least 64 MiB, so
 * the journal and the state stores next to it still have room for the run
 * it precedes.
 */
export function spoolReserve(fsBytes: number): number {
  return Math.max(64 * 1024 * 1024, Math.floor(fsBytes * 0.01));
}

/**
 * The first pass over a seed file: every line checked, the bytes hashed and
 * the entries counted, holding one line at a time. A file that is not a
 * regular file (a pipe such as `/dev/stdin` or `<(...)`, a device) cannot be
 * read twice: its bytes are copied meanwhile to a spool file in `spoolDir`
 * (owner-only), which the second pass reads instead. A bad line is refused
 * naming file:line, before anything is written.
 */
export async function scanSeedFile(file: string, maxLineBytes: number, spoolDir: string, options: SeedScanOptions = {}): Promise<SeedScan> {
  await assertNotPipe(file);
  let regular: boolean;
  let bytes: number | undefined;
  try {
    const info = await stat(file);
    // Only the bytes there when it is opened are read, by both passes: a file something appends to
    // meanwhile (faster than it is read: `yes >> file`) was read for as long as it grew, for ever.
    // A file claiming 0 bytes may still have contents (/proc files): copied like a pipe.
    regular = info.isFile() && info.size > 0;
    if (regular) bytes = info.size;
  } catch (cause) {
    throw new WalrusError('CONFIG_INVALID', `cannot read seed file ${file}: ${(cause as Error).message}`, { cause });
  }
  const hash = createHash('sha256');
  let spool: string | undefined;
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  if (!regular) {
    await mkdir(spoolDir, { recursive: true });
    spool = join(spoolDir, `seed-spool-${process.pid}-${randomUUID().slice(0, 8)}.tmp`);
    handle = await open(spool, 'wx', 0o600);
  }
  let entries = 0;
  try {
    const spooled = handle === undefined || spool === undefined ? undefined : new Spooler(file, spool, spoolDir, handle, options.spoolReserveBytes);
    for await (const group of readEntries(file, file, maxLineBytes, async (chunk) => {
      hash.update(chunk);
      if (spooled !== undefined) await spooled.write(chunk);
    }, bytes)) {
      entries += group.length;
    }
    await handle?.close();
    handle = undefined;
    if (bytes !== undefined) await assertSameSize(file, bytes);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    if (spool !== undefined) await rm(spool, { force: true });
    throw error;
  }
  return { file, read: spool ?? file, spool, digest: hash.digest('hex'), entries, maxLineBytes, bytes };
}

/** A file that grew (or shrank) during the first pass is refused: what it holds now is not what was checked, and its end may cut a line being written. */
async function assertSameSize(file: string, bytes: number): Promise<void> {
  const now = await stat(file).then((info) => info.size, () => undefined);
  if (now === bytes) return;
  throw new WalrusError('CONFIG_INVALID', `seed file ${file} changed while it was being checked (${bytes} bytes when opened, ` +
    `${now === undefined ? 'gone' : `${now} bytes`} once read): something writes to it. Nothing was loaded; ` +
    'seed from a copy nothing writes to, or feed a growing file with `tail -f <file> | walrus-stream produce <topic> --plain`', { context: { file } });
}

/**
 * Copies a pipe's bytes to its spool file, refusing to fill the disk: every
 * {@link SPOOL_CHECK_BYTES} it checks the free space of the file system
 * (`statfs`) and stops while there is still room to load what it copied
 * (as many bytes again) and the reserve, and a failed write
 * (ENOSPC, EFBIG past `ulimit -f`) is said as the spool's, not the seed's.
 */
class Spooler {
  #written = 0;
  #nextCheck = SPOOL_CHECK_BYTES;

  constructor(readonly file: string, readonly spool: string, readonly dir: string,
    readonly handle: Awaited<ReturnType<typeof open>>, readonly reserve: number | undefined) {}

  async write(chunk: Buffer): Promise<void> {
    if (this.#written + chunk.length >= this.#nextCheck) {
      this.#nextCheck = this.#written + chunk.length + SPOOL_CHECK_BYTES;
      await this.#checkRoom();
    }
    try {
      // A write that reaches the limit writes what fits and says how much; the next one fails (EFBIG, ENOSPC).
      // Ignoring the count lost the end of the copy when the pipe ended right there.
      for (let done = 0; done < chunk.length;) done += (await this.handle.write(chunk, done, chunk.length - done)).bytesWritten;
    } catch (cause) {
      throw new WalrusError('CONFIG_INVALID', `seed file ${this.file} is not a regular file, so it is copied to ${this.spool} before it is loaded, ` +
        `and that copy failed after ${this.#written} bytes: ${(cause as Error).message}${diskFullAdvice(cause, this.dir, 'run again')}; ` +
        'the copy was removed and nothing was loaded', { cause, context: { file: this.file, spool: this.spool } });
    }
    this.#written += chunk.length;
  }

  async #checkRoom(): Promise<void> {
    let free: number;
    let size: number;
    try {
      const info = await statfs(this.dir);
      free = info.bavail * info.bsize;
      size = info.blocks * info.bsize;
    } catch {
      return; // no statfs there: the write's own error (ENOSPC) still stops it
    }
    const reserve = this.reserve ?? spoolReserve(size);
    // Loading stores the copied bytes again (an embedded node's segments are on the same disk as a rule).
    if (free >= reserve + this.#written + SPOOL_CHECK_BYTES) return;
    throw new WalrusError('CONFIG_INVALID', `seed file ${this.file} is not a regular file, so it is copied to ${this.spool} before it is loaded; ` +
      `after ${this.#written} bytes the file system holding ${this.dir} has ${free} bytes free, and a copy leaves room to load it ` +
      `(as many bytes again) and ${reserve} more (1% of the file system, at least 64 MiB, for the journal and the state): ` +
      'the copy was removed and nothing was loaded. ' +
      'An endless pipe (`<(yes ...)`) is never done: feed it with `walrus-stream produce <topic> --plain` instead, ' +
      'or write the data to a file and seed that', { context: { file: this.file, spool: this.spool, free, reserve } });
  }
}

/**
 * The second pass: the entries of a scanned seed file, a read at a time.
 * Each line is checked again and the bytes hashed again: a file changed
 * since the first pass fails the load, naming the file, instead of loading
 * contents the marker does not describe.
 */
export async function* seedEntries(scan: SeedScan): AsyncGenerator<string[]> {
  const hash = createHash('sha256');
  let entries = 0;
  try {
    for await (const group of readEntries(scan.read, scan.file, scan.maxLineBytes, (chunk) => { hash.update(chunk); }, scan.bytes)) {
      entries += group.length;
      yield group;
    }
  } catch (cause) {
    throw changed(scan.file, (cause as Error).message, cause);
  }
  if (entries !== scan.entries || hash.digest('hex') !== scan.digest) {
    throw changed(scan.file, `it had ${scan.entries} entries when checked, ${entries} when loaded`);
  }
}

function changed(file: string, what: string, cause?: unknown): WalrusError {
  return new WalrusError('CONFIG_INVALID', `seed file ${file} changed while it was being loaded (${what}); ` +
    'the load stopped part-way: seed from a file nothing writes to meanwhile (a copy), with --reseed', { cause });
}

/**
 * A seed file's non-empty lines, trailing whitespace (which the server would
 * trim anyway) removed, in groups (the lines of one read). Read as a stream:
 * a line longer than one entry (a binary file, /dev/zero) or not UTF-8 is
 * refused with its file:line as soon as it is read, so memory stays bounded
 * by one read and one entry, and no byte is silently replaced. `tap` sees
 * every chunk read, in order, before its lines. `bytes`: read only that many
 * (a regular file's size when it was opened).
 */
async function* readEntries(path: string, file: string, maxLineBytes: number,
  tap: (chunk: Buffer) => Promise<void> | void, bytes?: number): AsyncGenerator<string[]> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let lineNo = 0;
  const entry = (line: Buffer): string => {
    lineNo += 1;
    if (line.length > maxLineBytes) {
      throw new WalrusError('INVALID_PAYLOAD', `${file}:${lineNo}: the line is longer than ${maxLineBytes} bytes, more than one entry can hold ` +
        '(stopped reading there); split it, or write it with `walrus-stream produce --compression gzip`');
    }
    let text: string;
    try {
      text = decoder.decode(line);
    } catch {
      throw new WalrusError('INVALID_PAYLOAD', `${file}:${lineNo}: the line is not valid UTF-8 (a binary file?); a seed file is text, one entry per line`);
    }
    const trimmed = text.trimEnd();
    const problem = trimmed === '' ? undefined : payloadProblem(trimmed);
    if (problem) throw new WalrusError('INVALID_PAYLOAD', `${file}:${lineNo}: ${problem}`);
    return trimmed;
  };
  // The start of a line not ended yet (at most maxLineBytes + 1 bytes: past that it is refused).
  let rest: Buffer[] = [];
  let restBytes = 0;
  try {
    for await (const read of createReadStream(path, bytes === undefined ? {} : { start: 0, end: bytes - 1 })) {
      const chunk = read as Buffer;
      await tap(chunk);
      const group: string[] = [];
      let from = 0;
      for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, from)) {
        const piece = chunk.subarray(from, at);
        const text = entry(restBytes === 0 ? piece : Buffer.concat([...rest, piece], restBytes + piece.length));
        rest = [];
        restBytes = 0;
        if (text !== '') group.push(text);
        from = at + 1;
      }
      if (from < chunk.length) {
        rest.push(Buffer.from(chunk.subarray(from))); // copied: a read buffer may be reused
        restBytes += chunk.length - from;
        if (restBytes > maxLineBytes) entry(Buffer.concat(rest, restBytes));
      }
      if (group.length > 0) yield group;
    }
    if (restBytes > 0) {
      const text = entry(Buffer.concat(rest, restBytes));
      if (text !== '') yield [text];
    }
  } catch (cause) {
    if (cause instanceof WalrusError) throw cause;
    throw new WalrusError('CONFIG_INVALID', `cannot read seed file ${file}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * A named pipe (a path made by mkfifo) or a socket is refused before it is
 * opened: opening a pipe nobody writes to blocks a thread of Node's pool for
 * ever, and then neither SIGINT nor SIGTERM (nor the second signal's exit)
 * could end the run. `lstat` and `realpath` never block. An anonymous pipe
 * (`/dev/stdin` of a shell pipeline, `<(...)`) already has its writer and is
 * read (and spooled): its link does not resolve to a path.
 */
async function assertNotPipe(file: string): Promise<void> {
  const real = await realpath(file).catch(() => undefined);
  const info = real === undefined ? undefined : await lstat(real).catch(() => undefined);
  if (info === undefined || !(info.isFIFO() || info.isSocket())) return;
  throw new WalrusError('CONFIG_INVALID', `cannot read seed file ${file}: it is a ${info.isFIFO() ? 'named pipe' : 'socket'}, not a file ` +
    '(opening a named pipe waits, unstoppably, until something writes to it): write the data to a file first, ' +
    'or pipe it in (`--seed <source>=/dev/stdin`, or `walrus-stream produce <topic> --plain`)');
}
