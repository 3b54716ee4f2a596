import { MAX_FRAME_BYTES } from '../protocol/limits.js';
import type { TopicLeaseState } from './leases.js';
import type { CompatMode } from './options.js';
import type { TopicRecovery, TopicSnapshot } from './store/types.js';

/**
 * STATE and METRICS bodies. Stock mode reproduces the upstream node's JSON
 * exactly (serde field order, compact STATE, 2-space pretty METRICS);
 * default mode adds fields that make consumer lag computable.
 */

export function stateJson(snapshot: TopicSnapshot, nodeId: number, compat: CompatMode, leases?: TopicLeaseState): string {
  const full = stateWithSegments(snapshot, nodeId, compat, leases, 0);
  if (compat === 'stock' || Buffer.byteLength(full) <= MAX_FRAME_BYTES) return full;
  // Too many segments for one reply frame (a lagging reader, small segments): clients must refuse a longer
  // frame, so the oldest sealed segments are left out of both maps, and `sealed_segments_omitted` says how many.
  let listed = 0;
  let bytes = Buffer.byteLength(stateWithSegments(snapshot, nodeId, compat, leases, snapshot.sealed.length));
  const nodeDigits = String(nodeId).length;
  for (let i = snapshot.sealed.length - 1; i >= 0; i--) {
    const [segment, count] = snapshot.sealed[i]!;
    const digits = String(segment).length;
    // `"<segment>":<count>,` in sealed_segments and `"<segment>":<node>,` in segment_leaders.
    const more = digits + 4 + String(count).length + digits + 4 + nodeDigits;
    if (bytes + more > MAX_FRAME_BYTES) break;
    bytes += more;
    listed++;
  }
  return stateWithSegments(snapshot, nodeId, compat, leases, snapshot.sealed.length - listed);
}

/** STATE without the `omit` oldest sealed segments (counted in `sealed_segments_omitted` when there are any). */
function stateWithSegments(snapshot: TopicSnapshot, nodeId: number, compat: CompatMode, leases: TopicLeaseState | undefined, omit: number): string {
  const sealed: Record<string, number> = {};
  const leaders: Record<string, number> = {};
  for (let i = omit; i < snapshot.sealed.length; i++) {
    const [segment, count] = snapshot.sealed[i]!;
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
    ...(omit > 0 ? { sealed_segments_omitted: omit } : {}),
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
