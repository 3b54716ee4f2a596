import { open } from 'node:fs/promises';

/** A file passed the size its reader accepts; the message says how large and what was expected. */
export class FileTooLargeError extends Error {
  /** `size`: a regular file's size; undefined for a device or pipe, read until it passed `limit`. */
  constructor(readonly limit: number, what: string, readonly size?: number) {
    super(`it holds more than ${limit} bytes, more than ${what} ever does (stopped reading there); check that it is the right file`);
    this.name = 'FileTooLargeError';
  }
}

/**
 * The UTF-8 text of a file the user named (a PEM file, a users file, a test
 * file), never more than `maxBytes`: a regular file's size is checked before
 * it is read; a device or pipe (/dev/zero, /dev/stdin), whose size is
 * unknown, is read up to one chunk past the limit and no further. Errors of
 * the file system pass through; a file too large is a {@link FileTooLargeError}.
 */
export async function readTextBounded(path: string, maxBytes: number, what: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const info = await handle.stat();
    if (info.size > maxBytes) throw new FileTooLargeError(maxBytes, what, info.size);
    if (info.isFile() || info.isDirectory()) return await handle.readFile('utf8');
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const { bytesRead, buffer } = await handle.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw new FileTooLargeError(maxBytes, what);
      chunks.push(buffer.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** Largest PEM file (a CA bundle, a certificate chain, a key) read: 1 MiB; the system's whole CA bundle is ~200 KB. */
export const MAX_PEM_BYTES = 1024 * 1024;
