/**
 * The normalised spec of a built-in aggregation step (`processors.<name>.aggregate`
 * in the topology). Declared here, beside the processor that runs it, because
 * the processor SDK sits below the topology: topology/types.ts re-exports
 * these types and topology/aggregate.ts builds them from the YAML.
 */

export type AggregateOp = 'count' | 'sum' | 'min' | 'max' | 'avg' | 'first' | 'last';

/** Where a windowed aggregation reads a record's event time. */
export type EventTimeSource = 'record' | { field: string } | { header: string };

/** `processors.<name>.aggregate`, normalised (docs/state.md, "Declarative aggregations in the topology"). */
export interface AggregateSpec {
  store: string;
  op: AggregateOp;
  /** Dotted path of the value field; null for `count`. */
  field: string | null;
  /** Event-time windows; null for one running aggregate per key. */
  window: AggregateWindowSpec | null;
  /** `close`: results when windows close; `update`: on every record (and on close, with a window). */
  emit: 'close' | 'update';
  /** Late records (windowed steps): dead-lettered, dropped, or sent to one of the step's outputs. */
  late: 'dlq' | 'drop' | { output: string };
}

/** An event-time window; durations in milliseconds. */
export interface AggregateWindowSpec {
  kind: 'tumbling' | 'hopping';
  size: number;
  /** Equals `size` for tumbling windows. */
  advance: number;
  grace: number;
  time: EventTimeSource;
  /** Records stamped more than this far ahead of the host's clock are refused (dead-lettered); null: no limit. */
  maxAhead: number | null;
}
