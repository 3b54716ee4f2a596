import { WalrusError } from '../../errors/index.js';
import type { WireWrites } from '../model/change-set.js';
import { pack, unpack } from '../model/codec.js';
import { readForeignList, type ForeignIdList } from './foreign-ids.js';

/** One log frame (one group commit): its store, its last commit seq, the writes in order, ids of the records covered. */
export interface LogBody {
  /** The store that wrote it; absent in logs written before stores named their frames. */
  n?: string;
  s: number;
  w: WireWrites;
  c: string[];
  /** Applied ids of other journals (a restored batch's, foreign-ids.ts); absent when none, and in logs written before they were kept. */
  f?: ForeignIdList;
}

export function encodeLogBody(store: string, seq: number, writes: WireWrites, covers: string[], foreign?: ForeignIdList): Uint8Array {
  return pack((foreign === undefined || foreign.length === 0 ? { n: store, s: seq, w: writes, c: covers } : { n: store, s: seq, w: writes, c: covers, f: foreign }) satisfies LogBody);
}

/**
 * Decodes a frame whose checksum held. Its checksum says the bytes are as
 * written, not by whom: a `commits.log` copied in from another store holds
 * frames that verify, and replaying them would give this store another
 * store's state without a word. So the store name is checked, and a body
 * that is not a commit at all is refused naming the file.
 */
export function decodeLogBody(frame: Uint8Array, path: string, store: string): LogBody {
  let body: Partial<LogBody> | undefined;
  try {
    body = unpack<Partial<LogBody>>(frame);
  } catch {
    body = undefined;
  }
  if (typeof body !== 'object' || body === null || typeof body.s !== 'number' || !Array.isArray(body.w) || !Array.isArray(body.c)
    || (body.f !== undefined && readForeignList(body.f) === undefined)) {
    throw misplaced(path, store, 'holds a frame that is not a commit of a walrus-stream store');
  }
  if (body.n !== undefined && body.n !== store) throw misplaced(path, store, `holds commits of store "${String(body.n)}", not of "${store}": a file of another store was copied in`);
  const bad = badCommitPart(body as LogBody);
  if (bad !== undefined) throw misplaced(path, store, `holds a frame that is not a commit of a walrus-stream store (its checksum holds, but ${bad})`);
  return body as LogBody;
}

/**
 * What in a commit frame is not as a store writes it, or undefined. Its
 * checksum held, so another program or a crafted file made it: before, a
 * seq of NaN or 1.5 became the store's seq (every later commit NaN), one
 * of -1 was skipped as if a snapshot held it, and a number as a key or a
 * string as a value failed later with a bare TypeError.
 */
function badCommitPart(body: LogBody): string | undefined {
  if (!Number.isSafeInteger(body.s) || body.s < 1) return `its commit seq is ${String(body.s)}`;
  for (const write of body.w) {
    if (!Array.isArray(write) || write.length !== 2 || typeof write[0] !== 'string' || write[0] === '') return 'a write in it has no key';
    if (write[1] !== null && !(write[1] instanceof Uint8Array)) return `the write of key ${JSON.stringify(write[0].slice(0, 100))} holds no encoded value`;
  }
  for (const id of body.c) if (typeof id !== 'string') return 'its record ids are not ids';
  return undefined;
}

/** A store file (log or snapshot) that belongs to another store or to nothing we wrote. */
export function misplaced(path: string, store: string, what: string): WalrusError {
  return new WalrusError('STATE_STORE_ERROR', `state file ${path} ${what}. Opening it would give store "${store}" state that is not its own: ` +
    'put back the store\'s own file, or move the store\'s directory aside and start again; the store is then restored from its changelog topic ' +
    '(docs/state.md, "Changelog topic and restore")', { retriable: false, context: { store, path } });
}
