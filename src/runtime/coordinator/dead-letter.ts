import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { WalrusError, type SerializedError } from '../../errors/index.js';
import { MAX_FRAME_BYTES } from '../../protocol/index.js';

/** Format version of dead-letter entries (docs/pipeline.md describes the format). */
export const DEAD_LETTER_VERSION = 1;

/** What a dead-letter entry records about a failed record. */
export interface DeadLetterInput {
  /** The original Walrus entry bytes of the record, exactly. */
  entry: string;
  error: SerializedError;
  /** Processor that gave up on it (`(decode)` when the entry could not be decoded). */
  processor: string;
  attempts: number;
  firstFailureAt: number;
  lastFailureAt: number;
  sourceTopic: string;
  recordId: string;
  key?: string;
}

/** A dead-letter entry as JSON (one Walrus entry on the dead-letter topic). */
export interface DeadLetterEntry {
  walrusDeadLetter: typeof DEAD_LETTER_VERSION;
  error: { code: string; message: string; stack?: string };
  processor: string;
  attempts: number;
  firstFailureAt: string;
  lastFailureAt: string;
  sourceTopic: string;
  recordId: string;
  key?: string;
  /** Present when `key` was cut to its first {@link MAX_KEY_CHARS} characters. */
  keyTruncated?: true;
  /**
   * How `entry` is stored: `utf8` (verbatim), `gzip+base64` when verbatim
   * would not fit one frame, or `omitted` when neither fits (an
   * incompressible entry within a few hundred bytes of the entry limit):
   * `entry` then holds its first characters, `entryBytes` and
   * `entrySha256` identify it, and the whole entry is in the error log.
   */
  entryEncoding: 'utf8' | 'gzip+base64' | 'omitted';
  entry: string;
  entryBytes?: number;
  entrySha256?: string;
}

const MAX_MESSAGE_CHARS = 1_000;
/** Keys longer than this are cut in a dead letter (a derived record's key can be as large as its processor made it). */
export const MAX_KEY_CHARS = 1_000;
/** What an `omitted` dead letter keeps of its entry, to recognise it. */
const OMITTED_HEAD_CHARS = 1_000;
const MAX_STACK_CHARS = 2_000;
/** Room for `PUT <topic> ` around the entry in a single-PUT frame. */
const FRAME_OVERHEAD = 300;

/**
 * Builds the dead-letter entry: JSON a human can read with any Walrus client
 * (the reason is right there), keeping the original entry byte-exact so it can
 * be replayed to `sourceTopic`. Bounded: message and stack are cut, and an
 * entry too large to sit verbatim beside them is gzip+base64-encoded.
 */
export function buildDeadLetter(input: DeadLetterInput): string {
  const base: Omit<DeadLetterEntry, 'entryEncoding' | 'entry'> = {
    walrusDeadLetter: DEAD_LETTER_VERSION,
    error: {
      code: input.error.code,
      message: input.error.message.slice(0, MAX_MESSAGE_CHARS),
      stack: input.error.stack?.slice(0, MAX_STACK_CHARS),
    },
    processor: input.processor,
    attempts: input.attempts,
    firstFailureAt: new Date(input.firstFailureAt).toISOString(),
    lastFailureAt: new Date(input.lastFailureAt).toISOString(),
    sourceTopic: input.sourceTopic,
    recordId: input.recordId,
    ...(input.key === undefined ? {} : input.key.length > MAX_KEY_CHARS ? { key: input.key.slice(0, MAX_KEY_CHARS), keyTruncated: true as const } : { key: input.key }),
  };
  const limit = MAX_FRAME_BYTES - FRAME_OVERHEAD;
  const fits = (text: string) => Buffer.byteLength(text) <= limit;
  const verbatim = JSON.stringify({ ...base, entryEncoding: 'utf8', entry: input.entry });
  if (fits(verbatim)) return verbatim;
  // Smaller: no stack, a short message — the entry itself matters more.
  const lean = { ...base, error: { code: base.error.code, message: base.error.message.slice(0, 200) } };
  const leanVerbatim = JSON.stringify({ ...lean, entryEncoding: 'utf8', entry: input.entry });
  if (fits(leanVerbatim)) return leanVerbatim;
  const packed = JSON.stringify({ ...lean, entryEncoding: 'gzip+base64', entry: gzipSync(input.entry).toString('base64') });
  if (fits(packed)) return packed;
  // Nothing holds the whole entry in one frame. A dead letter must always be writable (else the record stays in
  // the journal and fails again at every start), so this one identifies the entry; the caller logs it whole.
  const omitted: DeadLetterEntry = {
    ...lean, entryEncoding: 'omitted', entry: input.entry.slice(0, OMITTED_HEAD_CHARS),
    entryBytes: Buffer.byteLength(input.entry), entrySha256: createHash('sha256').update(input.entry).digest('hex'),
  };
  return JSON.stringify(omitted);
}

/** True when a dead letter built by {@link buildDeadLetter} does not hold its whole entry (the caller logs the entry). */
export function omitsEntry(deadLetter: string): boolean {
  return deadLetter.includes('"entryEncoding":"omitted"');
}

/** Parses a dead-letter entry and restores the original entry bytes (for `dlq replay` and tests). */
export function parseDeadLetter(text: string): DeadLetterEntry & { original: string } {
  const parsed = JSON.parse(text) as DeadLetterEntry;
  if (parsed?.walrusDeadLetter !== DEAD_LETTER_VERSION) {
    throw new WalrusError('DESERIALIZATION_ERROR', 'not a walrus-stream dead-letter entry (no "walrusDeadLetter": 1)');
  }
  if (parsed.entryEncoding === 'omitted') {
    throw new WalrusError('DESERIALIZATION_ERROR', `the dead letter of record ${parsed.recordId} does not hold its entry (${parsed.entryBytes} bytes, sha256 ${parsed.entrySha256}): ` +
      'it was too large to keep beside the failure; the whole entry is in the log line "dead letter without its entry" of the run that wrote it', { retriable: false });
  }
  return { ...parsed, original: restoreEntry(parsed) };
}

/**
 * The original entry of a parsed dead letter. Written by hand or damaged, a
 * dead letter may name an unknown encoding, hold no string, or hold gzip
 * that inflates far past one entry (a few KiB of gzip can hold gigabytes):
 * inflating stops at one frame, so reading a hostile dead letter costs at
 * most that much memory.
 */
function restoreEntry(parsed: DeadLetterEntry): string {
  const bad = (why: string) => new WalrusError('DESERIALIZATION_ERROR', `the dead letter of record ${String(parsed.recordId)} ${why}`, { retriable: false });
  if (typeof parsed.entry !== 'string') throw bad(`has no "entry" string (got ${parsed.entry === null ? 'null' : typeof parsed.entry})`);
  if (parsed.entryEncoding === 'utf8') return parsed.entry;
  if (parsed.entryEncoding !== 'gzip+base64') throw bad(`has entryEncoding ${JSON.stringify(parsed.entryEncoding)}; known are utf8, gzip+base64 and omitted`);
  try {
    return gunzipSync(Buffer.from(parsed.entry, 'base64'), { maxOutputLength: MAX_FRAME_BYTES }).toString('utf8');
  } catch (error) {
    throw bad(`has a gzip+base64 entry that is damaged or inflates past ${MAX_FRAME_BYTES} bytes (${(error as Error).message})`);
  }
}
