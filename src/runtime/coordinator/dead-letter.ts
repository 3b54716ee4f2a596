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
  /** How `entry` is stored: `utf8` (verbatim) or `gzip+base64` when verbatim would not fit one frame. */
  entryEncoding: 'utf8' | 'gzip+base64';
  entry: string;
}

const MAX_MESSAGE_CHARS = 1_000;
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
    ...(input.key === undefined ? {} : { key: input.key }),
  };
  const limit = MAX_FRAME_BYTES - FRAME_OVERHEAD;
  const verbatim = JSON.stringify({ ...base, entryEncoding: 'utf8', entry: input.entry });
  if (Buffer.byteLength(verbatim) <= limit) return verbatim;
  const packed = JSON.stringify({
    ...base, error: { ...base.error, stack: undefined }, entryEncoding: 'gzip+base64', entry: gzipSync(input.entry).toString('base64'),
  });
  if (Buffer.byteLength(packed) <= limit) return packed;
  throw new WalrusError('MESSAGE_TOO_LARGE',
    `dead-letter entry for record ${input.recordId} is ${Buffer.byteLength(packed)} bytes even compressed (limit ${limit})`,
    { context: { size: Buffer.byteLength(packed), limit, topic: input.sourceTopic } });
}

/** Parses a dead-letter entry and restores the original entry bytes (for `dlq replay` and tests). */
export function parseDeadLetter(text: string): DeadLetterEntry & { original: string } {
  const parsed = JSON.parse(text) as DeadLetterEntry;
  if (parsed?.walrusDeadLetter !== DEAD_LETTER_VERSION) {
    throw new WalrusError('DESERIALIZATION_ERROR', 'not a walrus-stream dead-letter entry (no "walrusDeadLetter": 1)');
  }
  const original = parsed.entryEncoding === 'gzip+base64'
    ? gunzipSync(Buffer.from(parsed.entry, 'base64')).toString('utf8')
    : parsed.entry;
  return { ...parsed, original };
}
