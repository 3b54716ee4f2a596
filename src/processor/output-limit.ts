import { WalrusError } from '../errors/index.js';

/** A processor's `maxOutputs` when the topology sets none: outputs one record may produce. */
export const DEFAULT_MAX_OUTPUTS = 100_000;
/** The largest `maxOutputs` the topology accepts. */
export const MAX_OUTPUTS_LIMIT = 10_000_000;
/** A processor's `maxOutputBytes` when the topology sets none: bytes of outputs one record may produce. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** The largest `maxOutputBytes` the topology accepts. */
export const MAX_OUTPUT_BYTES_LIMIT = 1024 * 1024 * 1024;

/**
 * The error of a record whose processor went past `maxOutputs`: not
 * retriable (the same input makes the same outputs), naming the processor,
 * the record and the setting to raise if the fan-out is meant.
 */
export function outputLimitError(processor: string, recordId: string, max: number): WalrusError {
  return new WalrusError('OUTPUT_LIMIT',
    `processor "${processor}" produced more than ${max.toLocaleString('en-US')} outputs for record ${recordId}; the record is dead-lettered and none of its outputs are written. ` +
    `If the fan-out is meant, raise processors.${processor}.maxOutputs in the topology (up to ${MAX_OUTPUTS_LIMIT.toLocaleString('en-US')}); each output is held in the worker's memory until the record finishes.`,
    { retriable: false, context: { processor, recordId, maxOutputs: max } });
}

/**
 * The error of a record whose processor's outputs went past `maxOutputBytes`
 * (counted as `what`: the strings and binary values it emitted, or its
 * outputs as encoded for the sinks and the next stage groups).
 */
export function outputBytesError(processor: string, recordId: string, max: number, what: string): WalrusError {
  return new WalrusError('OUTPUT_LIMIT',
    `processor "${processor}" produced more than ${max.toLocaleString('en-US')} bytes of outputs (${what}) for record ${recordId}; the record is dead-lettered and none of its outputs are written. ` +
    `If outputs this large are meant, raise processors.${processor}.maxOutputBytes in the topology (up to 1GiB); every byte is held in the worker's memory, then the coordinator's, until the record finishes.`,
    { retriable: false, context: { processor, recordId, maxOutputBytes: max } });
}

/** What an output's own headers count against `maxOutputBytes`: the length of every name and value. */
export function headerBytes(headers: Readonly<Record<string, string>>): number {
  let n = 0;
  for (const name in headers) n += name.length + headers[name]!.length;
  return n;
}

/**
 * What an output value counts against `maxOutputBytes` as it is emitted,
 * without walking it: a string its length, binary data its byte length,
 * anything else 0 (it is counted encoded, when its step ends).
 */
export function emittedBytes(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (typeof value !== 'object' || value === null) return 0;
  if (ArrayBuffer.isView(value)) return value.byteLength;
  return value instanceof ArrayBuffer ? value.byteLength : 0;
}
