export { loadTopology, loadTopologyText } from './load.js';
export { formatDiagnostic, sortDiagnostics } from './validate/diagnostics.js';
export { topologySchema, type ParsedTopology } from './schema/schema.js';
export { topologyJsonSchema } from './schema/json-schema.js';
export { parseDuration, parseSize, DURATION_FORMS, SIZE_FORMS } from './units.js';
export type * from './types.js';
export { buildGraph, type TopologyGraph, type GraphNode, type GraphEdge } from './graph.js';
export { renderGraph, GRAPH_FORMATS, type GraphFormat } from './render-graph.js';
export { describeCounts, formatReport, diagnosticsOf } from './report.js';
