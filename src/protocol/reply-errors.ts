import { WalrusError, type ErrorContext } from '../errors/index.js';
import { serverError } from './server-errors.js';

/** Helpers every reply parser shares: `ERR <message>` to a typed error, and the PROTOCOL_ERROR for a reply that does not fit. */

function isErr(body: Buffer): boolean {
  return body.length >= 4 && body[0] === 0x45 && body[1] === 0x52 && body[2] === 0x52 && body[3] === 0x20;
}

export function throwIfErr(body: Buffer, context: ErrorContext): void {
  if (isErr(body)) throw serverError(body.toString('utf8', 4), context);
}

export function unexpected(body: Buffer, context: ErrorContext): WalrusError {
  const shown = body.length > 80 ? `${body.toString('utf8', 0, 80)}...` : body.toString('utf8');
  return new WalrusError('PROTOCOL_ERROR', `Unexpected reply to ${context.command ?? 'request'}: ${JSON.stringify(shown)}.`, { context });
}
