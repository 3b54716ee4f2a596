import { WalrusError } from '../errors/index.js';

/** A processor's `maxOutputs` when the topology sets none: outputs one record may produce. */
export const DEFAULT_MAX_OUTPUTS = 100_000;
/** The largest `maxOutputs` the topology accepts. */
export const MAX_OUTPUTS_LIMIT = 10_000_000;

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
