import type { LoadTopologyOptions, LoadedTopology } from './types.js';

/*
 * The package entry's loadTopology: the same functions as ./load.js, which
 * (with the YAML parser, zod and the schema behind it) is imported on the
 * first call instead of with the package. A processor module imports
 * 'walrus-stream' in every worker thread; it should not pay for parsing
 * topologies it never reads.
 */

/**
 * Reads, interpolates, validates and normalises a topology file.
 *
 * Every problem is collected and reported at once, sorted by position; the
 * thrown error is `TOPOLOGY_INVALID` with `context.diagnostics` (errors and
 * warnings). Warnings alone do not fail: they are returned.
 *
 * @example
 * const { topology, warnings } = await loadTopology('topology.yaml', { env: process.env });
 */
export async function loadTopology(file: string, options: LoadTopologyOptions = {}): Promise<LoadedTopology> {
  return (await import('./load.js')).loadTopology(file, options);
}

/** Same as `loadTopology`, for text already in memory; `file` names it in messages and anchors relative paths. */
export async function loadTopologyText(text: string, file: string, options: LoadTopologyOptions = {}): Promise<LoadedTopology> {
  return (await import('./load.js')).loadTopologyText(text, file, options);
}
