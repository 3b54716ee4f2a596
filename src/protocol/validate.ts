import { WalrusError } from '../errors/index.js';
import { MAX_TOPIC_LENGTH, TOPIC_PATTERN } from './limits.js';

/**
 * Unicode White_Space, which is what Rust's `str::trim_end` removes on the
 * server. JavaScript's `\s` is not the same set: it lacks U+0085 (NEL) and
 * adds U+FEFF (BOM), which Rust keeps. A payload ending in any of these
 * would be silently altered by the node, so we refuse it before sending.
 */
export const TRAILING_WHITESPACE = /[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+$/u;

function isWhitespaceCode(c: number): boolean {
  return (c >= 0x09 && c <= 0x0d) || c === 0x20 || c === 0x85 || c === 0xa0 || c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/** Returns a problem description, or undefined when `topic` is a valid topic name. */
export function topicProblem(topic: unknown): string | undefined {
  if (typeof topic !== 'string') return `topic must be a string, got ${typeof topic}`;
  if (topic.length === 0) return 'topic must not be empty';
  if (topic.length > MAX_TOPIC_LENGTH) return `topic is ${topic.length} characters long, the limit is ${MAX_TOPIC_LENGTH}`;
  if (topic === '.' || topic === '..') return `topic must not be "${topic}"`;
  if (!TOPIC_PATTERN.test(topic)) {
    const bad = [...topic].find((c) => !TOPIC_PATTERN.test(c)) ?? '';
    const shown = bad === ' ' ? 'a space' : JSON.stringify(bad);
    return `topic ${JSON.stringify(topic)} contains ${shown}; allowed are A-Z a-z 0-9 . _ - :`;
  }
  return undefined;
}

/** Throws INVALID_TOPIC unless `topic` is a valid topic name. */
export function assertTopic(topic: unknown): asserts topic is string {
  const problem = topicProblem(topic);
  if (problem !== undefined) {
    throw new WalrusError('INVALID_TOPIC', `Invalid topic name: ${problem}.`, {
      context: typeof topic === 'string' ? { topic } : {},
    });
  }
}

/**
 * Returns a problem description, or undefined when `payload` reaches the
 * node byte for byte: non-empty, well-formed UTF-16 (lone surrogates would
 * become U+FFFD), and not ending in whitespace that `trim_end` removes.
 */
export function payloadProblem(payload: string): string | undefined {
  if (typeof payload !== 'string') return notAString(payload);
  if (payload.length === 0) return 'payload is empty (the node cannot store an empty entry)';
  if (!payload.isWellFormed()) return 'payload contains a lone surrogate and is not valid UTF-8';
  // Fast path: every White_Space character is in the BMP, so one code unit
  // tells whether the payload ends in whitespace. The anchored regex scans the
  // whole string in V8 (tens of µs per 64 KiB entry), so it only runs to build
  // the error message.
  if (!isWhitespaceCode(payload.charCodeAt(payload.length - 1))) return undefined;
  const trailing = TRAILING_WHITESPACE.exec(payload);
  if (trailing) {
    const codes = [...trailing[0]].map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);
    return payload.length === trailing[0].length
      ? 'payload is only whitespace, which the node trims to nothing'
      : `payload ends in whitespace (${codes.slice(0, 4).join(' ')}${codes.length > 4 ? ' ...' : ''}) that the node would trim; use the envelope format to keep it`;
  }
  return undefined;
}

/** Payloads are text: say what came instead, and what to do with bytes. */
function notAString(payload: unknown): string {
  if (payload instanceof Uint8Array) return `payload must be a string, got a ${Buffer.isBuffer(payload) ? 'Buffer' : payload.constructor.name} (decode it to text first, or send binary values with a Producer, whose envelope is binary-safe)`;
  return `payload must be a string, got ${payload === null ? 'null' : typeof payload}`;
}

/** Throws INVALID_PAYLOAD unless `payload` would be stored unchanged. */
export function assertPayload(payload: string, topic?: string): void {
  const problem = payloadProblem(payload);
  if (problem !== undefined) {
    throw new WalrusError('INVALID_PAYLOAD', `Invalid payload${topic ? ` for topic ${topic}` : ''}: ${problem}.`, {
      context: topic ? { topic } : {},
    });
  }
}
