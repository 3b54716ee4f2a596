/**
 * The pipeline runtime: what `walrus-stream run` drives, usable from code.
 * @module
 */
export { startPipeline, type Pipeline, type PipelineOptions } from './pipeline.js';
export { Coordinator, type CoordinatorOptions } from './coordinator.js';
export { WorkerPool, type WorkerPoolOptions } from './worker-pool.js';
export { buildDeadLetter, parseDeadLetter, DEAD_LETTER_VERSION, type DeadLetterEntry, type DeadLetterInput } from './dead-letter.js';
export { seedSources, parseSeed, type SeedSpec, type SeedResult } from './seed.js';
export { formatSummary } from './summary-format.js';
export type { PipelineSummary, ProcessorCounts } from './pipeline-stats.js';
export type { SourceReader, FetchedBatch, EntryWriter, RecordCodec, JournalLike, BatchRunner, DecodedRecord, OutRecord } from './pipeline-io.js';
