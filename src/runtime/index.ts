/**
 * The pipeline runtime: what `walrus-stream run` drives, usable from code.
 * @module
 */
export { startPipeline, type Pipeline, type PipelineOptions } from './pipeline/pipeline.js';
export { Coordinator, type CoordinatorOptions } from './coordinator/coordinator.js';
export { WorkerPool, type WorkerPoolOptions } from './pool/worker-pool.js';
export { buildDeadLetter, parseDeadLetter, DEAD_LETTER_VERSION, type DeadLetterEntry, type DeadLetterInput } from './coordinator/dead-letter.js';
export { seedSources, parseSeed, type SeedSpec, type SeedResult } from './sources/seed.js';
export { formatSummary } from './pipeline/summary-format.js';
export type { PipelineSummary, ProcessorCounts } from './coordinator/pipeline-stats.js';
export type { SourceReader, FetchedBatch, EntryWriter, RecordCodec, JournalLike, BatchRunner, DecodedRecord, OutRecord } from './pipeline/pipeline-io.js';
