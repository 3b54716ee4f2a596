import { WalrusError } from '../errors/index.js';

/**
 * Throw this from a processor when retrying cannot help (malformed input, a
 * failed validation): the record goes straight to the dead-letter topic with
 * this message as its reason. The bullmq `UnrecoverableError` habit.
 *
 * @example
 * if (!isOrder(value)) throw new NonRetriableError('order has no "amount"');
 */
export class NonRetriableError extends WalrusError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('NON_RETRIABLE', message, { ...options, retriable: false });
    this.name = 'NonRetriableError';
  }
}
