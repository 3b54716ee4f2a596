export { loadTopology, loadTopologyText } from './load.js';
export { formatDiagnostic, sortDiagnostics } from './diagnostics.js';
export { topologySchema, type ParsedTopology } from './schema.js';
export { topologyJsonSchema } from './json-schema.js';
export { parseDuration, parseSize, DURATION_FORMS, SIZE_FORMS } from './units.js';
export type * from './types.js';
