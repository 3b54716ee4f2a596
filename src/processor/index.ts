/**
 * The processor SDK: what `processors/*.ts` import.
 * @module
 */
export { defineProcessor, isProcessor, PROCESSOR_BRAND, type Processor, type ProcessorLike } from './define.js';
export { NonRetriableError } from './non-retriable-error.js';
export type {
  ProcessorRecord,
  ProcessorContext,
  LifecycleContext,
  ProcessorConfig,
  ProcessorDefinition,
  ProcessorMetrics,
  ProcessResult,
  EmitOptions,
  Outputs,
  OutputName,
  OutputValue,
} from './types.js';
