import { WalrusError } from '../../errors/index.js';
import { HEADERS } from '../../codec/index.js';
import type { EmitOptions } from '../../processor/types.js';

/*
 * What a processor hands ctx.emit or returns, checked before it becomes an
 * output: what it is made of is the serializers' business, but some values
 * are a mistake in the processor that no serializer reports (see
 * checkOutputValue).
 */

/**
 * Keys and header values are strings (the envelope, partitioning and key
 * ordering all hash and compare them as such): anything else fails the
 * processor on this record here, naming it, instead of a type error in
 * whatever handles the output next. Each of `options.key`,
 * `options.headers` and every header is read once, and what was checked is
 * what is used: a getter or proxy that answers a string to the check and
 * something else afterwards would otherwise send a number or an object on,
 * to fail a later processor (charged with it) or a sink.
 */
export function emitKey(processor: string, output: string, options: EmitOptions | undefined): string | undefined {
  if (options === undefined || options === null) return undefined;
  const key = (options as { key?: unknown }).key;
  if (key !== undefined && typeof key !== 'string') {
    throw new WalrusError('INVALID_ARGUMENT',
      `processor "${processor}" emitted to "${output}" with a key of type ${describeType(key)}; keys are strings (convert it, e.g. String(id))`, { retriable: false });
  }
  return key;
}

/** The headers of an emit merged over `inherited` (undefined when it gives none), each header read once and checked; see emitKey. */
export function emitHeaders(processor: string, output: string, options: EmitOptions | undefined,
  inherited: Readonly<Record<string, string>>): Record<string, string> | undefined {
  if (options === undefined || options === null) return undefined;
  const headers = (options as { headers?: unknown }).headers;
  if (headers === undefined) return undefined;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new WalrusError('INVALID_ARGUMENT', `processor "${processor}" emitted to "${output}" with headers of type ${describeType(headers)}; headers are an object of strings`, { retriable: false });
  }
  const merged: Record<string, string> = { ...inherited };
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue; // only own headers are sent on
    const value = (headers as Record<string, unknown>)[name];
    if (typeof value !== 'string') {
      throw new WalrusError('INVALID_ARGUMENT',
        `processor "${processor}" emitted to "${output}" with header "${name}" of type ${describeType(value)}; header values are strings`, { retriable: false });
    }
    merged[name] = value;
  }
  return merged;
}

function describeType(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/**
 * A Promise, a generator or another iterator is work not finished, not a
 * value: every serializer writes it as `{}` (its fields are not own data),
 * so `return values.map(async (v) => ...)` or a `function*` process() would
 * write empty records. Refused here, naming the processor, so the record is
 * dead-lettered instead. How the value came — emitted to `output`, or
 * returned (`element`: its 0-based place in a returned array, or -1) — goes
 * into the message only when there is one: this runs for every output.
 */
export function checkOutputValue(processor: string, value: unknown, output: string | undefined, element = -1): void {
  if (typeof value !== 'object' || value === null) return;
  const kind = unfinishedKind(value);
  if (kind === undefined) return;
  const how = output !== undefined ? `emitted to "${output}"` : element >= 0 ? `returned, as element #${element + 1} of its array,` : 'returned';
  const fix = kind === 'a Promise'
    ? 'await it inside process() (e.g. return await Promise.all(values))'
    : 'collect its values inside process() (return [...values], or for await (const v of values) ctx.emit(output, v))';
  throw new WalrusError('INVALID_ARGUMENT',
    `processor "${processor}" ${how} ${kind}, which is no record value (every serializer would write it as {}); ${fix}`, { retriable: false });
}

function unfinishedKind(value: object): string | undefined {
  try {
    const v = value as { then?: unknown; next?: unknown };
    if (typeof v.then === 'function') return 'a Promise';
    if (typeof v.next === 'function') {
      if (Symbol.asyncIterator in value) return 'an async generator (or async iterator)';
      if (Symbol.iterator in value) return 'a generator (or iterator)';
    }
  } catch {
    // A proxy whose trap throws: the serializers report it (SERIALIZATION_ERROR).
  }
  return undefined;
}

/** An output's headers: its own, or its input's; a repartition origin of the input is kept either way (codec/headers.ts, ORIGIN). */
export function outputHeaders(own: Record<string, string> | undefined, input: Record<string, string>): Record<string, string> {
  if (own === undefined) return input;
  const origin = input[HEADERS.ORIGIN];
  return origin === undefined || own[HEADERS.ORIGIN] !== undefined ? own : { ...own, [HEADERS.ORIGIN]: origin };
}

/** Headers for a topology's own sink: the internal repartition origin stays inside the pipeline. */
export function withoutOrigin(headers: Record<string, string>): Record<string, string> {
  if (headers[HEADERS.ORIGIN] === undefined) return headers;
  const copy = { ...headers };
  delete copy[HEADERS.ORIGIN];
  return copy;
}
