/** A node of the dashboard's topology graph. */
export interface DashboardNode {
  /** Unique: `source:orders`, `processor:parse`, `sink:accepted`, `topic:orders.dlq`. */
  id: string;
  kind: 'source' | 'processor' | 'sink' | 'topic' | 'dlq';
  /** The name stats are keyed by (source, processor or sink name; topic name for topics). */
  name: string;
  /** Extra text under the name (a topic, an aggregation). */
  detail?: string;
  /**
   * Stage group of a processor (named after its head processor): processors
   * fused into one worker task share it and are drawn inside one box. null
   * for other nodes.
   */
  group: string | null;
}

export interface DashboardEdge {
  from: string;
  to: string;
  kind: 'read' | 'output' | 'write' | 'dead-letter';
  /** The output name, when it is not `default`. */
  label?: string;
}

/** Which instance of its topology this run is (`run --instance`, `--instances`; docs/scaling.md). */
export interface DashboardInstance {
  /** `--instance` (with `--instances`, the index); null for a single, unnamed instance. */
  id: string | null;
  /** This instance's index, with `--instances n`; null otherwise. */
  index: number | null;
  /** The instance count n of `--instances n`; null without it. */
  count: number | null;
}

/** A partitioned source, sink or store (`partitions: n`, n > 1): n Walrus topics `<topic>.p<i>`. */
export interface DashboardPartitioned {
  kind: 'source' | 'sink' | 'store';
  name: string;
  /** The logical topic (a store: its changelog). */
  topic: string;
  partitions: number;
  /**
   * Partitions this instance reads (a source) or holds the keys of (a store):
   * `p % count === index` with `--instances`, every one without. null for a
   * sink: every instance writes to every partition, by key.
   */
  owned: number[] | null;
}

/** `GET /api/topology`. */
export interface DashboardTopology {
  app: string;
  nodes: DashboardNode[];
  edges: DashboardEdge[];
  /** State stores of the run (browse them with `/api/stores/<name>`). */
  stores: string[];
  instance: DashboardInstance;
  /** The partitioned sources, sinks and stores, in that order (empty when nothing is partitioned). */
  partitioned: DashboardPartitioned[];
}

/** `POST /api/dead-letters/replay`'s answer. */
export interface ReplayAnswer {
  replayed: Record<string, number>;
  results: Array<{ id: number; ok: true; topic: string } | { id: number; ok: false; reason: string }>;
}

/** One page of a store, for the store browser. */
export interface StorePage {
  store: string;
  /** Keys in the store. */
  keys: number;
  entries: Array<{ key: string; value: unknown }>;
  /** True when more keys matched than `limit`. */
  truncated: boolean;
}
