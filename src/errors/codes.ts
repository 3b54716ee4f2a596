/**
 * Every error code walrus-stream can raise, in one table.
 *
 * Decisions (retry, circuit breaker, dead-lettering) read `code` and
 * `retriable`, never the message text. `retriable` here is the default for
 * the code; a thrown error may override it when it knows better (for example
 * a SERVER_ERROR that is known to be permanent).
 *
 * Each code must be documented in docs/errors.md: test/errors/codes.test.ts
 * fails when one is not.
 */
export const ERROR_CODES = {
  // -- connection and network ------------------------------------------------
  CONNECTION_TIMEOUT: { retriable: true, summary: 'A TCP connection could not be established within the connect timeout.' },
  CONNECTION_REFUSED: { retriable: true, summary: 'The node refused the TCP connection (nothing listening on that address).' },
  CONNECTION_CLOSED: { retriable: true, summary: 'The connection closed while requests were in flight or queued.' },
  NETWORK_ERROR: { retriable: true, summary: 'Any other socket-level failure (reset, unreachable host, DNS failure).' },
  REQUEST_TIMEOUT: { retriable: true, summary: "No reply arrived within the per-request timeout; the connection is retired (a call's shorter `timeoutMs` gives up on that call alone, `context.givenUp`)." },
  ABORTED: { retriable: false, summary: 'The caller aborted the operation through its AbortSignal.' },
  POOL_TIMEOUT: { retriable: true, summary: 'No pooled connection became available within the acquire timeout.' },
  POOL_CLOSED: { retriable: false, summary: 'The connection pool or client was closed.' },
  CIRCUIT_OPEN: { retriable: true, summary: "The node's circuit breaker is open; the error carries `retryAfterMs`." },
  AUTH_FAILED: { retriable: false, summary: 'The node refused the login (wrong user or password, no such user, or a node without authentication) or requires one that was not configured. Never retried: fix the credentials.' },
  NO_NODE_AVAILABLE: { retriable: true, summary: 'Every node of the cluster is unavailable (breakers open or unreachable).' },

  // -- protocol ---------------------------------------------------------------
  FRAME_TOO_LARGE: { retriable: false, summary: 'A request frame would exceed the 65,536-byte protocol limit; nothing was sent.' },
  INVALID_FRAME: { retriable: false, summary: 'A frame length of 0 or above the limit was received or would be sent.' },
  PROTOCOL_ERROR: { retriable: true, summary: 'The peer sent a reply that does not fit the protocol (the connection is retired).' },
  INVALID_TOPIC: { retriable: false, summary: 'A topic name is empty, too long, or uses characters outside the allowed set.' },
  INVALID_PAYLOAD: { retriable: false, summary: 'A payload is empty, not well-formed UTF-8, or ends in whitespace the server would trim.' },
  INVALID_ARGUMENT: { retriable: false, summary: 'An argument to a client call is out of range or of the wrong type.' },

  // -- server replies ---------------------------------------------------------
  TOPIC_NOT_FOUND: { retriable: false, summary: 'The node answered `ERR unknown topic <t>`: register the topic first.' },
  TOPIC_ALREADY_EXISTS: { retriable: false, summary: 'The topic already exists (only raised by admin calls that ask for a new topic).' },
  INVALID_COMMAND: { retriable: false, summary: 'The node rejected the command as malformed (missing topic or payload).' },
  UNKNOWN_COMMAND: { retriable: false, summary: 'The node answered `ERR unknown command` (e.g. a stock node asked for BATCH_PUT).' },
  LEASE_NOT_FOUND: { retriable: false, summary: 'The node holds no such lease for this connection (`ERR unknown lease <id>`): already acknowledged or released by the lease timeout; its entries are or will be delivered again.' },
  OWNERSHIP_CONFLICT: { retriable: false, summary: 'Another live process holds the ownership lease of a partition this one claims (`ERR claimed by <owner> ...`): two instances were started with the same index, or overlapping `--instances`.' },
  SERVER_ERROR: { retriable: true, summary: 'Any other `ERR <message>` from the node (forwarding or Raft failures).' },

  // -- records ------------------------------------------------------------------
  SERIALIZATION_ERROR: { retriable: false, summary: 'A value could not be serialized by the configured serializer.' },
  DESERIALIZATION_ERROR: { retriable: false, summary: 'An entry could not be decoded; the error carries the raw bytes.' },
  MESSAGE_TOO_LARGE: { retriable: false, summary: 'An encoded record (after compression) does not fit in one Walrus entry.' },
  COMPRESSION_ERROR: { retriable: false, summary: 'A compressed payload could not be compressed or decompressed.' },
  PRODUCER_FULL: { retriable: true, summary: 'A Producer already holds `maxBufferedBytes` of records not yet acknowledged: the send was refused, nothing queued (await earlier sends or `flush()` first).' },

  // -- configuration and topology ---------------------------------------------------
  CONFIG_INVALID: { retriable: false, summary: 'Options passed in code failed validation; the message names the field.' },
  TOPOLOGY_INVALID: { retriable: false, summary: 'topology.yaml failed validation; the error lists every problem with file:line:col.' },
  PARTITION_MISMATCH: { retriable: false, summary: "`run` refused to start: the topology's partition counts disagree with topics or local state already in use (a topic or store was used with another number of partitions), or a repartition topic it no longer reads holds records; the message names the topic or store and what to do." },

  // -- runtime ------------------------------------------------------------------------
  PROCESSOR_ERROR: { retriable: true, summary: 'A processor threw while handling a record (retried with backoff).' },
  NON_RETRIABLE: { retriable: false, summary: 'A processor threw NonRetriableError: the record goes straight to the dead-letter topic.' },
  PROCESSOR_TIMEOUT: { retriable: true, summary: 'A processor exceeded its per-record timeout.' },
  PROCESSOR_LOAD_FAILED: { retriable: false, summary: 'A processor module could not be loaded or does not default-export a processor.' },
  WORKER_CRASHED: { retriable: true, summary: 'The worker thread running the record died (exit, uncaught error, resource limits).' },
  SHUTTING_DOWN: { retriable: true, summary: 'The operation was cut short by a shutdown.' },
  JOURNAL_ERROR: { retriable: false, summary: 'The local journal could not be written or read.' },
  STATE_STORE_ERROR: { retriable: false, summary: 'A state store could not be read, written or restored.' },
  OUTPUT_LIMIT: { retriable: false, summary: "A processor produced more outputs for one record than its `maxOutputs` allows (default 100,000), or more bytes of them than its `maxOutputBytes` (default 64MiB); the record was dead-lettered, none of its outputs were written." },
  LATE_RECORD: { retriable: false, summary: "A record's event time fell in windows that had already closed (window end + grace); it went to the late output or the dead-letter topic." },
  TEST_STALLED: { retriable: false, summary: 'The test driver waited longer than `settleTimeoutMs` (real time) for the pipeline to finish what was piped in.' },
  TEST_FILE_INVALID: { retriable: false, summary: 'A `walrus-stream test` file is not valid YAML or does not fit the test format; the error lists every problem with file:line:col.' },
  INTERNAL_ERROR: { retriable: false, summary: 'A bug in walrus-stream: please report it with the stack.' },
} as const satisfies Record<string, { retriable: boolean; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}
