import { ERROR_CODES, isErrorCode, type ErrorCode } from './codes.js';

/** Where an error happened: any of these may be attached. */
export interface ErrorContext {
  topic?: string;
  /** Node address as `host:port`. */
  node?: string;
  command?: string;
  /** The raw `ERR ...` text a node answered, when the error came from one. */
  serverMessage?: string;
  /** Sizes for FRAME_TOO_LARGE / MESSAGE_TOO_LARGE. */
  size?: number;
  limit?: number;
  /** For CIRCUIT_OPEN: milliseconds until the breaker lets a call through. */
  retryAfterMs?: number;
  [key: string]: unknown;
}

export interface WalrusErrorOptions {
  cause?: unknown;
  /** Overrides the code's default retriability. */
  retriable?: boolean;
  context?: ErrorContext;
}

const BRAND = Symbol.for('walrus-stream.error');

/**
 * The one base error of the project. `code` and `retriable` drive every
 * decision; `context` says where (topic, node, sizes).
 *
 * `instanceof WalrusError` also holds for errors created by another copy of
 * the module (a worker thread, a second install) thanks to a global brand,
 * the habit undici uses for its errors.
 */
export class WalrusError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: WalrusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WalrusError';
    this.code = code;
    this.retriable = options.retriable ?? ERROR_CODES[code].retriable;
    this.context = options.context ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /** Plain data that survives structured clone / msgpack (e.g. across worker threads). */
  toJSON(): SerializedError {
    return serializeError(this);
  }
}

/** An error as plain data; `code` is kept so decisions work on the other side. */
export interface SerializedError {
  name: string;
  message: string;
  code: string;
  retriable: boolean;
  stack?: string;
  context?: ErrorContext;
  cause?: SerializedError;
}

const MAX_STACK_CHARS = 4_000;

/** Turns any thrown value into plain data, keeping `code`, `retriable` and a bounded stack. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (error instanceof WalrusError) {
    return {
      name: error.name,
      message: error.message,
      code: error.code,
      retriable: error.retriable,
      stack: error.stack?.slice(0, MAX_STACK_CHARS),
      context: error.context,
      cause: depth < 3 && error.cause !== undefined ? serializeError(error.cause, depth + 1) : undefined,
    };
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const retriable = (error as { retriable?: unknown }).retriable;
    return {
      name: error.name,
      message: error.message,
      code: typeof code === 'string' ? code : 'PROCESSOR_ERROR',
      retriable: typeof retriable === 'boolean' ? retriable : true,
      stack: error.stack?.slice(0, MAX_STACK_CHARS),
      cause: depth < 3 && error.cause !== undefined ? serializeError(error.cause, depth + 1) : undefined,
    };
  }
  return { name: 'Error', message: String(error), code: 'PROCESSOR_ERROR', retriable: true };
}

/** Rebuilds a WalrusError from plain data (unknown codes become PROCESSOR_ERROR, keeping the original in context). */
export function deserializeError(data: SerializedError): WalrusError {
  const code: ErrorCode = isErrorCode(data.code) ? data.code : 'PROCESSOR_ERROR';
  const context: ErrorContext = { ...(data.context ?? {}) };
  if (code !== data.code) context.originalCode = data.code;
  const error = new WalrusError(code, data.message, {
    retriable: data.retriable,
    context,
    cause: data.cause ? deserializeError(data.cause) : undefined,
  });
  if (data.stack) error.stack = data.stack;
  return error;
}

/** True when `error` says it may succeed on retry (a WalrusError or any error with `retriable: true`). */
export function isRetriable(error: unknown): boolean {
  if (error instanceof WalrusError) return error.retriable;
  return typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true;
}
