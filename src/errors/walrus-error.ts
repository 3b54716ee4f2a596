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
/**
 * Characters of a message (and of a name) kept: a processor's error crosses
 * threads with every failed attempt, and is logged. A 20 MB message on 5
 * records (3 attempts each) took 7.3 s and +186 MB before this bound.
 */
const MAX_MESSAGE_CHARS = 16_000;
const MAX_NAME_CHARS = 200;
/**
 * A thrown error's `code` is cut to this (a processor may set any string): it
 * goes into every dead letter, log line and dashboard tally of the record,
 * and a 100,000-character code made a dead letter too large to write, so the
 * record stayed in the journal and failed again at every start.
 */
export const MAX_CODE_CHARS = 200;

/** `text` cut to `max` characters, saying how many were left out. */
function bounded(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}... (${text.length - max} more characters)` : text;
}

/** Turns any thrown value into plain data, keeping `code`, `retriable` and a bounded stack. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  // Whatever a processor throws is read here, in its worker: a getter, a proxy trap or a toString that
  // throws must not escape (it would end the thread and be charged as WORKER_CRASHED), so every read is guarded.
  const kind = kindOf(error);
  if (kind === 'walrus') {
    const error_ = error as WalrusError;
    return {
      name: bounded(textOf(read(error_, 'name')) ?? 'WalrusError', MAX_NAME_CHARS),
      message: bounded(textOf(read(error_, 'message')) ?? '', MAX_MESSAGE_CHARS),
      code: typeof error_.code === 'string' ? error_.code.slice(0, MAX_CODE_CHARS) : 'PROCESSOR_ERROR',
      retriable: error_.retriable,
      stack: textOf(read(error_, 'stack'))?.slice(0, MAX_STACK_CHARS),
      context: error_.context,
      cause: causeOf(error_, depth),
    };
  }
  if (kind === 'error') {
    const error_ = error as Error;
    const code = read(error_, 'code');
    const retriable = read(error_, 'retriable');
    const message = read(error_, 'message');
    return {
      name: bounded(textOf(read(error_, 'name')) ?? 'Error', MAX_NAME_CHARS),
      message: typeof message === 'string' ? bounded(message, MAX_MESSAGE_CHARS) : message === undefined ? '' : describeThrown(message),
      code: typeof code === 'string' ? code.slice(0, MAX_CODE_CHARS) : 'PROCESSOR_ERROR',
      retriable: typeof retriable === 'boolean' ? retriable : true,
      stack: textOf(read(error_, 'stack'))?.slice(0, MAX_STACK_CHARS),
      cause: causeOf(error_, depth),
    };
  }
  return { name: 'Error', message: typeof error === 'string' ? bounded(error, MAX_MESSAGE_CHARS) : `${describeThrown(error)} (thrown instead of an Error)`, code: 'PROCESSOR_ERROR', retriable: true };
}

/** What `serializeError` was given; a proxy whose traps throw counts as neither kind of error. */
function kindOf(error: unknown): 'walrus' | 'error' | 'other' {
  try {
    return error instanceof WalrusError ? 'walrus' : error instanceof Error ? 'error' : 'other';
  } catch {
    return 'other';
  }
}

/** `target[key]`, or undefined when reading it throws (a getter, a proxy trap). */
function read(target: object, key: string): unknown {
  try {
    return (target as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function causeOf(error: Error, depth: number): SerializedError | undefined {
  if (depth >= 3) return undefined;
  const cause = read(error, 'cause');
  return cause === undefined ? undefined : serializeError(cause, depth + 1);
}

/** A thrown value that is not an Error, as text: JSON for plain data, else String(), else its type; never throws, at most 1,000 characters. */
function describeThrown(value: unknown): string {
  let text: string | undefined;
  try {
    text = typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
  } catch {
    try {
      text = String(value);
    } catch {
      text = undefined;
    }
  }
  if (text === undefined || text === '{}') {
    let kind = 'object';
    try {
      kind = Object.prototype.toString.call(value);
    } catch { /* a proxy that refuses even that */ }
    text = text === '{}' ? `{} ${kind}` : `a value that cannot be shown (${kind})`;
  }
  return text.length > 1_000 ? `${text.slice(0, 1_000)}...` : text;
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
