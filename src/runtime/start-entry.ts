import type { Topology } from '../topology/types.js';
import type { Pipeline, PipelineOptions } from './pipeline/pipeline.js';

/*
 * The package entry's startPipeline: the runtime behind it (coordinator,
 * pool, piscina, metrics, the HTTP server) is imported on the first call,
 * not with the package, which every processor module imports in its worker.
 */

/**
 * Starts a topology: the embedded node when no nodes are given, the client,
 * the worker pool (every processor module loaded and `init`ed before the
 * first fetch, so a broken module fails here, naming its file), the journal,
 * then the coordinator.
 */
export async function startPipeline(topology: Topology, options: PipelineOptions = {}): Promise<Pipeline> {
  return (await import('./pipeline/pipeline.js')).startPipeline(topology, options);
}
