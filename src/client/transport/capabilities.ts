import type { ErrorContext } from '../../errors/index.js';
import { encodeFrame, unexpected } from '../../protocol/index.js';

/** Which extension commands a node answers. */
export interface NodeCapabilities {
  batchPut: boolean;
  batchGet: boolean;
  /** BATCH_LEASE / ACK (embedded node in default mode): reads that are consumed only when acknowledged. */
  batchLease: boolean;
  /** CLAIM / UNCLAIM (embedded node in default mode): ownership leases on partition topics (docs/scaling.md). */
  claims: boolean;
  /** False until the node has been asked; both flags are false meanwhile. */
  probed: boolean;
}

/**
 * Probe frames: the bare command with no topic. They can never change
 * anything on the node, whatever it is — a stock node answers
 * `ERR unknown command`, a node with the extension rejects the missing
 * topic (`ERR BATCH_PUT requires a topic` or similar). A bare
 * `BATCH_LEASE` cannot lease anything either (it names no topic), nor can a bare `CLAIM` claim anything. Any `ERR`
 * other than `unknown command` means the command exists.
 */
export const PROBE_FRAMES = {
  batchPut: encodeFrame('BATCH_PUT'),
  batchGet: encodeFrame('BATCH_GET'),
  batchLease: encodeFrame('BATCH_LEASE'),
  claims: encodeFrame('CLAIM'),
} as const;

/**
 * Parser for a probe reply: true unless the node says it does not know the
 * command. Only an `ERR` can answer a command without a topic: an `OK` or
 * `EMPTY` is another request's reply (an extra one the node sent, paired by
 * order), PROTOCOL_ERROR, and the connection is retired.
 */
export function parseProbe(body: Buffer, context: ErrorContext): boolean {
  const text = body.toString('latin1');
  if (text === 'ERR unknown command') return false;
  if (text.startsWith('ERR ')) return true;
  throw unexpected(body, context);
}
