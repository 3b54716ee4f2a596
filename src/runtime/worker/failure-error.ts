import { serializeError, type ErrorContext, type SerializedError } from '../../errors/index.js';

/** Characters of an error's `context` (as JSON) that cross to the coordinator; past it, the start of its JSON text. */
export const MAX_CONTEXT_CHARS = 16_000;

/**
 * What a processor's failed attempt threw, as data that crosses threads.
 * `serializeError` guards the message, name and stack of what it reads, but
 * hands a WalrusError's `context` on as it is and reads its `code` and
 * `retriable` directly: a `NonRetriableError('...', { context })` whose
 * context held a function, a symbol, a cycle or a Proxy could not be encoded
 * with the result, and a getter among them that throws escaped. Either ended
 * the worker thread — its batch split and rerun, the record dead-lettered as
 * WORKER_CRASHED after its attempts instead of at once with its own message.
 * The context is carried as JSON data here (at most MAX_CONTEXT_CHARS); this
 * runs once per failed attempt, never for a record that succeeds.
 */
export function processorFailure(thrown: unknown): SerializedError {
  let data: SerializedError;
  try {
    data = serializeError(thrown);
  } catch {
    return {
      name: 'Error', code: 'PROCESSOR_ERROR', retriable: true,
      message: `${messageOf(thrown)} (reading the error's code, retriable or context threw; give them as plain values)`,
    };
  }
  for (let level: SerializedError | undefined = data; level !== undefined; level = level.cause) {
    if (level.context !== undefined) level.context = crossable(level.context);
    if (typeof level.retriable !== 'boolean') level.retriable = true;
  }
  return data;
}

function crossable(context: unknown): ErrorContext | undefined {
  let text: string | undefined;
  try {
    text = JSON.stringify(context, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  } catch (error) {
    return { unserializable: `the error's context could not be carried to the coordinator: ${messageOf(error)}` };
  }
  if (text === undefined) return undefined;
  if (text.length > MAX_CONTEXT_CHARS) return { truncated: `${text.slice(0, MAX_CONTEXT_CHARS)}... (${text.length - MAX_CONTEXT_CHARS} more characters)` };
  const parsed = JSON.parse(text) as unknown;
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed as ErrorContext : { value: parsed };
}

/** An Error's first line of message, or a description of something else; never throws. */
function messageOf(value: unknown): string {
  try {
    return serializeError(value instanceof Error ? new Error(String(value.message)) : value).message.split('\n')[0]!;
  } catch {
    return 'an error that cannot be shown';
  }
}
