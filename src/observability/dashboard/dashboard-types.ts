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

/** `GET /api/topology`. */
export interface DashboardTopology {
  app: string;
  nodes: DashboardNode[];
  edges: DashboardEdge[];
  /** State stores of the run (browse them with `/api/stores/<name>`). */
  stores: string[];
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
