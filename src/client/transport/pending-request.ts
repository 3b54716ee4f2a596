import type net from 'node:net';
import type { WalrusError, ErrorContext } from '../../errors/index.js';
import type { ClientAuth } from './auth.js';
import type { ClientTls } from './tls.js';

/** Turns a reply body into a value, or throws (a WalrusError from `ERR ...`, or PROTOCOL_ERROR). */
export type ReplyParser<T> = (body: Buffer, context: ErrorContext) => T;

/** Creates a (connecting) socket; tests and proxies swap it in. Default: `net.connect`. */
export type SocketFactory = (options: { host: string; port: number }) => net.Socket;

export interface RequestMeta {
  /** Command name, for errors and stats (`PUT`, `BATCH_GET`, ...). */
  command: string;
  topic?: string;
  /** Overrides the connection's request timeout for this request. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What a connection reports about every request that got a reply, failed or was abandoned. */
export interface ReplySample {
  command: string;
  outcome: 'ok' | 'error' | 'abandoned';
  error?: WalrusError;
  durationMs: number;
  bytesOut: number;
  bytesIn: number;
  /** Entries a reply carried for a request whose caller had already given up (an aborted GET): lost for good. */
  discardedEntries: number;
}

export interface ConnectionOptions {
  host: string;
  port: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  socketFactory?: SocketFactory | undefined;
  /** Log in with AUTH before the connection is handed out. @default none */
  auth?: ClientAuth | undefined;
  /** Speak TLS to the node. @default plain TCP */
  tls?: ClientTls | undefined;
  /** Called once per request, synchronously; keep it cheap. */
  onReply?: (sample: ReplySample) => void;
  /**
   * Abandons `Connection.connect` when aborted (the client closing): the
   * TCP connect, TLS handshake or AUTH login is cut, the socket destroyed,
   * and connect rejects with POOL_CLOSED. @default none
   */
  signal?: AbortSignal | undefined;
}

/** One request waiting for its reply; a class so every queue entry has the same (monomorphic) shape. */
export class Pending {
  resolve!: (value: unknown) => void;
  reject!: (error: WalrusError) => void;
  abandoned = false;
  /** Stops listening to `signal` (set while the caller's signal is watched). */
  offAbort: (() => void) | undefined = undefined;
  constructor(
    readonly parse: ReplyParser<unknown>,
    readonly context: ErrorContext,
    /** When the caller is given up on (its timeoutMs, else requestTimeoutMs). */
    readonly deadline: number,
    /** When the connection is retired if no reply came: never before requestTimeoutMs. */
    readonly retireAt: number,
    readonly sentAt: number,
    readonly bytesOut: number,
    readonly signal: AbortSignal | undefined,
  ) {}
}

export function sample(pending: Pending, outcome: ReplySample['outcome'], durationMs: number, bytesIn: number, discardedEntries: number, error?: WalrusError): ReplySample {
  return { command: pending.context.command!, outcome, error, durationMs, bytesOut: pending.bytesOut, bytesIn, discardedEntries };
}
