import { WalrusError, type ErrorCode, type ErrorContext } from '../errors/index.js';

/**
 * The one table from a node's `ERR <message>` text to an error code. Every
 * other part of walrus-stream reads `code`, never the text.
 * Messages come from distributed-walrus `src/client.rs` / controller.
 */
const SERVER_ERRORS: ReadonlyArray<{ pattern: RegExp; code: ErrorCode; context?: (m: RegExpExecArray) => ErrorContext }> = [
  { pattern: /^unknown topic (.+)$/s, code: 'TOPIC_NOT_FOUND', context: (m) => ({ topic: m[1] }) },
  { pattern: /^topic already exists(?: (.+))?$/s, code: 'TOPIC_ALREADY_EXISTS', context: (m) => (m[1] ? { topic: m[1] } : {}) },
  { pattern: /^unknown command$/, code: 'UNKNOWN_COMMAND' },
  { pattern: /^(?:[A-Z_]+) requires a (?:topic|payload|lease id)$/, code: 'INVALID_COMMAND' },
  { pattern: /^invalid (?:frame length|utf-8)$/, code: 'INVALID_FRAME' },
  { pattern: /^invalid batch\b/, code: 'INVALID_COMMAND' },
  { pattern: /^invalid lease id\b/, code: 'INVALID_COMMAND' },
  // BATCH_LEASE / ACK extension of the embedded node (docs/broker.md, "Leases").
  { pattern: /^unknown lease (\d+)$/, code: 'LEASE_NOT_FOUND', context: (m) => ({ leaseId: Number(m[1]) }) },
  // A refusal by a healthy node (acknowledge some leases first), not a node failure.
  { pattern: /^too many open leases\b/, code: 'INVALID_COMMAND', context: () => ({ leaseLimit: true }) },
  { pattern: /^RELEASE takes only a topic$/, code: 'INVALID_COMMAND' },
  // CLAIM / UNCLAIM extension of the embedded node (docs/broker.md, "Ownership leases").
  { pattern: /^claimed by (\S+) for (\d+) ms more$/, code: 'OWNERSHIP_CONFLICT', context: (m) => ({ holder: m[1], expiresInMs: Number(m[2]) }) },
  { pattern: /^claim lost to (\S+)$/, code: 'OWNERSHIP_CONFLICT', context: (m) => ({ holder: m[1], lost: true }) },
  { pattern: /^(?:CLAIM|UNCLAIM) requires an owner\b|^invalid (?:CLAIM|UNCLAIM)\b|^too many claims\b/, code: 'INVALID_COMMAND' },
  // Authentication (Walrus's AUTH design, docs/security.md): never retried.
  { pattern: /^authentication (?:required|failed)\b/, code: 'AUTH_FAILED' },
];

/** Maps the text after `ERR ` to a typed error; unknown texts become retriable SERVER_ERRORs. */
export function serverError(message: string, context: ErrorContext = {}): WalrusError {
  for (const { pattern, code, context: extract } of SERVER_ERRORS) {
    const match = pattern.exec(message);
    if (match) {
      return new WalrusError(code, describe(code, message, context), {
        context: { ...context, ...(extract ? extract(match) : {}), serverMessage: message },
      });
    }
  }
  return new WalrusError('SERVER_ERROR', describe('SERVER_ERROR', message, context), {
    context: { ...context, serverMessage: message },
  });
}

/** Most characters of a node's ERR text quoted in an error message (all of it stays in `context.serverMessage`): a frame can hold 64 KiB of it. */
const SHOWN_CHARS = 200;

function describe(code: ErrorCode, fullMessage: string, context: ErrorContext): string {
  const message = fullMessage.length > SHOWN_CHARS ? `${fullMessage.slice(0, SHOWN_CHARS)}... (${fullMessage.length} characters)` : fullMessage;
  const where = context.node ? ` (node ${context.node})` : '';
  switch (code) {
    case 'TOPIC_NOT_FOUND':
      return `Node answered "ERR ${message}"${where}: register the topic before writing or reading it.`;
    case 'LEASE_NOT_FOUND':
      return `Node answered "ERR ${message}"${where}: the lease was already acknowledged or released (lease timeout); its entries are or will be delivered again.`;
    case 'UNKNOWN_COMMAND':
      return `Node answered "ERR unknown command"${where}${context.command ? ` to ${context.command}` : ''}: it does not support this command.`;
    case 'AUTH_FAILED':
      return message.startsWith('authentication required')
        ? `Node answered "ERR ${message}"${where}: it requires a login; set cluster.auth in the topology, or --user with WALRUS_PASSWORD (WALRUS_USER) on the command line.`
        : `Node answered "ERR ${message}"${where}: check the user name and password.`;
    default:
      return `Node answered "ERR ${message}"${where}.`;
  }
}
