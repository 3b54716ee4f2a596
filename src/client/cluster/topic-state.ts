import type { TopicState } from '../../protocol/index.js';

/** `client.state(topic)`: the node's STATE reply, typed, with lag when the node reports it. */
export interface TopicStateInfo {
  topic: string;
  /** The node that answered (the one that holds this topic's read cursor for this client). */
  node: string;
  currentSegment: number;
  leaderNode: number;
  /** Entries in sealed segments. */
  lastSealedEntryOffset: number;
  /** Entries per sealed segment, by segment number. */
  sealedSegments: Record<string, number>;
  /** Leader node id per segment. */
  segmentLeaders: Record<string, number>;
  /** Entries ever written (embedded node in default mode only). */
  totalEntries?: number;
  /** Entries already read through this node (embedded node in default mode only). */
  readCursor?: number;
  /** Entries written but not yet read through this node (embedded node in default mode only; a stock node does not report it). */
  lag?: number;
  /** BATCH_LEASE leases open on the topic, whoever holds them (embedded node in default mode, once the topic was leased from). */
  openLeases?: number;
  /** The JSON exactly as the node sent it. */
  raw: TopicState;
}

export function toTopicStateInfo(topic: string, node: string, raw: TopicState): TopicStateInfo {
  const info: TopicStateInfo = {
    topic,
    node,
    currentSegment: raw.current_segment,
    leaderNode: raw.leader_node,
    lastSealedEntryOffset: raw.last_sealed_entry_offset,
    sealedSegments: raw.sealed_segments,
    segmentLeaders: raw.segment_leaders,
    raw,
  };
  if (typeof raw.total_entries === 'number') info.totalEntries = raw.total_entries;
  if (typeof raw.read_cursor === 'number') info.readCursor = raw.read_cursor;
  if (typeof raw.lag === 'number') info.lag = raw.lag;
  if (typeof raw.open_leases === 'number') info.openLeases = raw.open_leases;
  return info;
}
