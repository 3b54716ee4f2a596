import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, realpath, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WalrusError } from '../../errors/index.js';
import { payloadProblem } from '../../protocol/index.js';

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
}

/**
 * The first pass over a seed file: every line checked, the bytes hashed and
 * the entries counted, holding one line at a time. A file that is not a
 * regular file (a pipe such as `/dev/stdin` or `<(...)`, a device) cannot be
 * read twice: its bytes are copied meanwhile to a spool file in `spoolDir`
 * (owner-only), which the second pass reads instead. A bad line is refused
 * naming file:line, before anything is written.
 */
export async function scanSeedFile(file: string, maxLineBytes: number, spoolDir: string): Promise<SeedScan> {
  await assertNotPipe(file);
  let regular: boolean;
  try {
    regular = (await stat(file)).isFile();
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
    const spooled = handle;
    for await (const group of readEntries(file, file, maxLineBytes, async (chunk) => {
      hash.update(chunk);
      if (spooled !== undefined) await spooled.write(chunk);
    })) {
      entries += group.length;
    }
    await handle?.close();
  } catch (error) {
    await handle?.close().catch(() => undefined);
    if (spool !== undefined) await rm(spool, { force: true });
    throw error;
  }
  return { file, read: spool ?? file, spool, digest: hash.digest('hex'), entries, maxLineBytes };
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
    for await (const group of readEntries(scan.read, scan.file, scan.maxLineBytes, (chunk) => { hash.update(chunk); })) {
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
 * every chunk read, in order, before its lines.
 */
async function* readEntries(path: string, file: string, maxLineBytes: number,
  tap: (chunk: Buffer) => Promise<void> | void): AsyncGenerator<string[]> {
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
    for await (const read of createReadStream(path)) {
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
