import type { Topology } from '../../topology/types.js';

/** Where records go: which processors read each source, which processors and sinks read each output. */
export interface Routes {
  /** source name → processor names */
  bySource: Map<string, string[]>;
  /** `processor.output` → processor names and sink names */
  byOutput: Map<string, { processors: string[]; sinks: string[] }>;
}

export function buildRoutes(topology: Topology): Routes {
  const bySource = new Map<string, string[]>();
  const byOutput = new Map<string, { processors: string[]; sinks: string[] }>();
  const target = (ref: string) => {
    let t = byOutput.get(ref);
    if (!t) { t = { processors: [], sinks: [] }; byOutput.set(ref, t); }
    return t;
  };
  for (const processor of Object.values(topology.processors)) {
    for (const input of processor.inputs) {
      if (input.kind === 'source') {
        // Appended in place: a copy per reader was quadratic in a source's readers.
        const readers = bySource.get(input.name);
        if (readers) readers.push(processor.name);
        else bySource.set(input.name, [processor.name]);
      }
      else target(`${input.name}.${input.output}`).processors.push(processor.name);
    }
  }
  for (const sink of Object.values(topology.sinks)) target(`${sink.input.processor}.${sink.input.output}`).sinks.push(sink.name);
  return { bySource, byOutput };
}

/** Dead-letter topic for entries of `source` that cannot be decoded: the first reader's, else `<topic>.dlq`. */
export function decodeDeadLetterTopic(topology: Topology, routes: Routes, source: string): string {
  const first = routes.bySource.get(source)?.[0];
  return first ? topology.processors[first].deadLetter : `${topology.sources[source].topic}.dlq`;
}
