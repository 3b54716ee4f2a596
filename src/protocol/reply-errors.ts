import { WalrusError, type ErrorContext } from '../errors/index.js';
import { serverError } from './server-errors.js';

/** Helpers every reply parser shares: `ERR <message>` to a typed error, and the PROTOCOL_ERROR for a reply that does not fit. */

function isErr(body: Buffer): boolean {
  return body.length >= 4 && body[0] === 0x45 && body[1] === 0x52 && body[2] === 0x52 && body[3] === 0x20;
}

export function throwIfErr(body: Buffer, context: ErrorContext): void {
  if (isErr(body)) throw serverError(body.toString('utf8', 4), context);
}

/** "reply to GET from node 10.0.0.7:9091": which request, which node. */
export function replyTo(context: ErrorContext): string {
  return `reply to ${context.command ?? 'a request'}${context.node ? ` from node ${context.node}` : ''}`;
}

export function unexpected(body: Buffer, context: ErrorContext): WalrusError {
  const shown = body.length > 80 ? `${body.toString('utf8', 0, 80)}...` : body.toString('utf8');
  return new WalrusError('PROTOCOL_ERROR', `Unexpected ${replyTo(context)}: ${JSON.stringify(shown)}.`, { context });
}

/** A reply that starts right but breaks a rule further in (a batch list, a lease id). */
export function malformed(problem: string, context: ErrorContext, cause?: unknown): WalrusError {
  return new WalrusError('PROTOCOL_ERROR', `Malformed ${replyTo(context)}: ${problem}`, { context, cause });
}
