import { WalrusError, type ErrorCode, type ErrorContext } from '../../errors/index.js';

/**
 * Turns socket-level failures into typed, retriable WalrusErrors.
 *
 * `requestSent` in the context tells the retry layer whether the node may
 * have executed the request: true means the frame was handed to the socket
 * before it failed, so a PUT might be stored and a GET might have consumed
 * an entry (see docs/client.md, "What a retry can do").
 */
export function socketError(error: unknown, node: string, phase: 'connect' | 'io'): WalrusError {
  if (error instanceof WalrusError) return error;
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = (error as Error | undefined)?.message ?? String(error);
  let code: ErrorCode = 'NETWORK_ERROR';
  if (errno === 'ECONNREFUSED') code = 'CONNECTION_REFUSED';
  else if (phase === 'connect' && errno === 'ETIMEDOUT') code = 'CONNECTION_TIMEOUT';
  const what = phase === 'connect' ? `Could not connect to node ${node}` : `Connection to node ${node} failed`;
  return new WalrusError(code, `${what}: ${message}${errno ? ` (${errno})` : ''}.`, {
    cause: error,
    context: { node, errno },
  });
}

export function connectTimeout(node: string, timeoutMs: number): WalrusError {
  return new WalrusError('CONNECTION_TIMEOUT', `Could not connect to node ${node} within ${timeoutMs} ms; check the address and that the node is up.`, {
    context: { node, timeoutMs },
  });
}

/** The error every in-flight request of a dead connection rejects with. */
export function inFlightFailure(reason: WalrusError, context: ErrorContext): WalrusError {
  return new WalrusError(
    reason.code === 'REQUEST_TIMEOUT' ? 'CONNECTION_CLOSED' : reason.code,
    `${context.command ?? 'Request'} was in flight when the connection to ${context.node} was lost: ${reason.message}`,
    { cause: reason, retriable: true, context: { ...context, requestSent: true } },
  );
}

export function closedBeforeSend(node: string, context: ErrorContext, reason?: WalrusError): WalrusError {
  return new WalrusError('CONNECTION_CLOSED', `Connection to node ${node} is closed; ${context.command ?? 'the request'} was not sent.`, {
    cause: reason,
    context: { ...context, node, requestSent: false },
  });
}

/** Errors that say something about the node's health (they count towards its circuit breaker). */
const NODE_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CONNECTION_TIMEOUT',
  'CONNECTION_REFUSED',
  'CONNECTION_CLOSED',
  'NETWORK_ERROR',
  'REQUEST_TIMEOUT',
  'PROTOCOL_ERROR',
  'SERVER_ERROR',
]);

export function isNodeFailure(error: unknown): boolean {
  return error instanceof WalrusError && NODE_FAILURES.has(error.code);
}

/**
 * A GET (BATCH_GET) that failed this way may have consumed entries nobody
 * sees: it reached the node and its reply is lost. Not one given up on by
 * its timeoutMs: that reply is still read, its entries counted as discarded.
 */
export function entriesMayBeLost(error: unknown): boolean {
  return requestMayHaveRun(error) && (error as WalrusError).context.givenUp !== true;
}

/** True when the error says the request reached the socket before the failure (the node may have run it). */
export function requestMayHaveRun(error: unknown): boolean {
  return error instanceof WalrusError && error.context.requestSent === true;
}
