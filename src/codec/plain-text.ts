import { WalrusError } from '../errors/index.js';
import { payloadProblem } from '../protocol/index.js';
import { ENVELOPE_MAGIC } from './envelope-format.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Turns serialized value bytes into a plain text entry for consumers that do
 * not speak the envelope (walrus-cli, scripts). Refuses, with INVALID_PAYLOAD,
 * anything the stock node would alter or a walrus-stream consumer would
 * misread: bytes that are not UTF-8, empty values, trailing whitespace,
 * values starting with the envelope magic, and values over `limit`.
 */
export function toPlainTextEntry(value: Uint8Array, limit: number, topic?: string): string {
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    throw invalid('the value is not valid UTF-8 (binary values need the envelope format)', topic);
  }
  const problem = payloadProblem(text);
  if (problem !== undefined) throw invalid(`${problem.replace('use the envelope format to keep it', 'use format "envelope" to keep it')}`, topic);
  if (text.startsWith(ENVELOPE_MAGIC)) {
    throw invalid(`the value starts with "${ENVELOPE_MAGIC}", which walrus-stream consumers read as an envelope; use format "envelope"`, topic);
  }
  if (value.byteLength > limit) {
    throw new WalrusError('MESSAGE_TOO_LARGE', `A plain text record of ${value.byteLength} bytes is above the ${limit}-byte limit of one Walrus entry${topic ? ` for topic ${topic}` : ''}; use format "envelope" with compression or split the value.`, {
      context: { size: value.byteLength, limit, ...(topic ? { topic } : {}) },
    });
  }
  return text;
}

function invalid(problem: string, topic: string | undefined): WalrusError {
  return new WalrusError('INVALID_PAYLOAD', `Cannot write this value as plain text${topic ? ` to topic ${topic}` : ''}: ${problem}.`, {
    context: topic ? { topic } : {},
  });
}
