import type { TopicLeaseState } from './leases.js';
import type { CompatMode } from './options.js';
import type { TopicRecovery, TopicSnapshot } from './store/types.js';

/**
 * STATE and METRICS bodies. Stock mode reproduces the upstream node's JSON
 * exactly (serde field order, compact STATE, 2-space pretty METRICS);
 * default mode adds fields that make consumer lag computable.
 */

export function stateJson(snapshot: TopicSnapshot, nodeId: number, compat: CompatMode, leases?: TopicLeaseState): string {
  const sealed: Record<string, number> = {};
  const leaders: Record<string, number> = {};
  for (const [segment, count] of snapshot.sealed) {
    sealed[String(segment)] = count;
    leaders[String(segment)] = nodeId;
  }
  leaders[String(snapshot.currentSegment)] = nodeId;
  const stock = {
    current_segment: snapshot.currentSegment,
    leader_node: nodeId,
    last_sealed_entry_offset: snapshot.sealedEntries,
    sealed_segments: sealed,
    segment_leaders: leaders,
  };
  if (compat === 'stock') return JSON.stringify(stock);
  const extended = {
    ...stock,
    total_entries: snapshot.totalEntries,
    read_cursor: snapshot.readCursor,
    // Entries waiting to be read: never delivered, or released by a lease for redelivery.
    lag: snapshot.totalEntries - snapshot.readCursor + (leases?.redeliverEntries ?? 0),
    // Only when start-up recovery repaired this topic's files: damage must be visible, not silent.
    ...(snapshot.recovery ? { recovery: recoveryJson(snapshot.recovery) } : {}),
  };
  if (!leases) return JSON.stringify(extended);
  // Only for topics that have been read with BATCH_LEASE this run.
  return JSON.stringify({
    ...extended,
    committed_cursor: snapshot.committedCursor,
    open_leases: leases.openLeases,
    leased_entries: leases.leasedEntries,
    redeliver_entries: leases.redeliverEntries,
  });
}

function recoveryJson(recovery: TopicRecovery): Record<string, unknown> {
  return {
    dropped_regions: recovery.droppedRegions,
    dropped_bytes: recovery.droppedBytes,
    truncated_bytes: recovery.truncatedBytes,
    quarantined_segments: recovery.quarantined,
    ...(recovery.rebuilt ? { topic_json_rebuilt: true } : {}),
    ...(recovery.missing.length > 0 ? { missing_segments: recovery.missing } : {}),
    ...(recovery.cursorReset ? { cursor_reset: true } : {}),
  };
}

export interface MetricsInput {
  nodeId: number;
  /** Metadata changes so far (topic creations, segment rollovers), like Raft log entries. */
  logIndex: number;
  millisSinceStart: number;
  extra?: Record<string, unknown>;
}

/**
 * openraft `RaftMetrics` of a single-node cluster that is its own leader,
 * with the top-level keys in openraft's order.
 */
export function metricsJson(input: MetricsInput, compat: CompatMode): string {
  const id = input.nodeId;
  const leaderId = { term: 1, node_id: id };
  const logId = { leader_id: leaderId, index: input.logIndex };
  const metrics: Record<string, unknown> = {
    running_state: { Ok: null },
    id,
    current_term: 1,
    vote: { leader_id: leaderId, committed: true },
    last_log_index: input.logIndex,
    last_applied: logId,
    snapshot: null,
    purged: null,
    state: 'Leader',
    current_leader: id,
    millis_since_quorum_ack: 0,
    last_quorum_acked: input.millisSinceStart,
    membership_config: {
      log_id: { leader_id: leaderId, index: 0 },
      membership: { configs: [[id]], nodes: { [String(id)]: {} } },
    },
    heartbeat: { [String(id)]: null },
    replication: { [String(id)]: logId },
  };
  if (compat !== 'stock' && input.extra) metrics.embedded = input.extra;
  return JSON.stringify(metrics, null, 2);
}
