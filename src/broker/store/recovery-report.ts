import type { TopicRecovery } from './types.js';

/**
 * One repair made by start-up recovery. Every repair is reported — logged
 * through the node's `onRecoveryRepair` and counted in STATE / METRICS in
 * default mode — because a repair means data was damaged, and an operator
 * must learn that from the node rather than from a missing record.
 */
export interface RecoveryRepair {
  /**
   * - `dropped`: a damaged region inside a segment was stepped over (one or
   *   more entries whose checksum or length is wrong; entries after it are kept).
   * - `truncated`: a torn or corrupt tail was cut off (a crash mid-write).
   * - `header-rewritten`: a segment cut inside its 16-byte header (a crash
   *   right after creating it) was rewritten empty.
   * - `quarantined`: a segment that does not start with a segment header
   *   was renamed aside and is not served.
   * - `topic-rebuilt`: a topic directory whose segments hold entries had a
   *   missing or damaged `topic.json`; it was rewritten from the directory
   *   name (`segment` is 0, `file` the `topic.json`).
   * - `topic-quarantined`: the same, but the directory name is a hashed one
   *   the topic name cannot be derived from; the whole directory was moved
   *   to `<data-dir>/quarantined/` (`topic` is the directory name).
   * - `missing`: a segment file below the newest one does not exist (deleted
   *   or moved by hand); the topic is served without its entries.
   * - `cursor-reset`: the topic's cursor file is damaged or of an unknown
   *   (newer) format; the topic is read again from its first entry.
   */
  kind: 'dropped' | 'truncated' | 'header-rewritten' | 'quarantined' | 'topic-rebuilt' | 'topic-quarantined' | 'missing' | 'cursor-reset';
  topic: string;
  segment: number;
  /** The segment file (for `quarantined`, its name before the move). */
  file: string;
  /** File offset where the damage starts (0 for a whole file). */
  offset: number;
  bytes: number;
  /** `quarantined` and `topic-quarantined` only: where the file or directory now is. */
  movedTo?: string;
  /** `missing` only: the entries a sealed segment holds at the node's `segmentEntries` (exact unless that setting changed since it was written). */
  entries?: number;
  /** One line for a log: what happened, where, and what to do. */
  message: string;
}

/** What recovery found and repaired when the store opened. */
export interface RecoveryReport {
  topics: number;
  entries: number;
  /** Bytes cut from torn or corrupt segment tails. */
  truncatedBytes: number;
  /** Bytes of damaged regions stepped over inside segments, and how many regions. */
  droppedBytes: number;
  droppedRegions: number;
  /** Segment files moved aside because their header is not a segment header. */
  quarantinedSegments: number;
  /** Topics whose damaged `topic.json` was rebuilt from the directory name. */
  rebuiltTopics: number;
  /** Topic directories with entries but no usable `topic.json` and a hashed name, moved to `<data-dir>/quarantined/`. */
  quarantinedTopics: number;
  /** Segment files missing from the middle of a topic's range. */
  missingSegments: number;
  /** Topics whose unreadable cursor file made them start over from their first entry. */
  cursorResets: number;
  /** Topic directories skipped because their `topic.json` was never completely written. */
  skippedDirs: string[];
  /** Every repair, in the order they were made. */
  repairs: RecoveryRepair[];
}

export function emptyRecoveryReport(): RecoveryReport {
  return { topics: 0, entries: 0, truncatedBytes: 0, droppedBytes: 0, droppedRegions: 0, quarantinedSegments: 0, rebuiltTopics: 0, quarantinedTopics: 0, missingSegments: 0, cursorResets: 0, skippedDirs: [], repairs: [] };
}

/** Adds one repair to the node-wide report and to its topic's summary. */
export function recordRepair(report: RecoveryReport, topic: TopicRecovery, repair: Omit<RecoveryRepair, 'message'>): void {
  const where = `topic ${JSON.stringify(repair.topic)} segment ${repair.segment} (${repair.file})`;
  let message: string;
  switch (repair.kind) {
    case 'dropped':
      report.droppedBytes += repair.bytes;
      report.droppedRegions++;
      topic.droppedRegions++;
      topic.droppedBytes += repair.bytes;
      message = `recovery: dropped ${repair.bytes} damaged bytes at offset ${repair.offset} of ${where}; the entries in them failed their checksum and are not served, entries after them are kept`;
      break;
    case 'truncated':
      report.truncatedBytes += repair.bytes;
      topic.truncatedBytes += repair.bytes;
      message = `recovery: cut a torn tail of ${repair.bytes} bytes at offset ${repair.offset} of ${where} (an interrupted write; entries never fully written are not served)`;
      break;
    case 'header-rewritten':
      report.truncatedBytes += repair.bytes;
      topic.truncatedBytes += repair.bytes;
      message = `recovery: rewrote the cut header (${repair.bytes} bytes) of ${where} (a crash right after the segment was created)`;
      break;
    case 'quarantined':
      report.quarantinedSegments++;
      topic.quarantined.push(repair.movedTo ?? repair.file);
      message = `recovery: ${where} does not start with a segment header (${repair.bytes} bytes); moved it aside to ${repair.movedTo} and serving the topic without it. ` +
        'Its entries are not delivered: restore the file from a backup (stop the node, move it back under its old name) or delete it once you no longer need it';
      break;
    case 'topic-rebuilt':
      report.rebuiltTopics++;
      topic.rebuilt = true;
      message = `recovery: ${repair.file} was missing or damaged while the topic's segments hold ${repair.bytes} bytes of entries; rebuilt it for topic ${JSON.stringify(repair.topic)} from the directory name and serving the topic`;
      break;
    case 'topic-quarantined':
      report.quarantinedTopics++;
      message = `recovery: topic directory ${repair.file} has no usable topic.json and its hashed name does not give the topic name, while its segments hold ${repair.bytes} bytes of entries; ` +
        `moved it aside to ${repair.movedTo} (not served; a new REGISTER of the topic starts empty). To restore it, stop the node, write {"name": "<exact topic name>"} to topic.json in it and move it back`;
      break;
    case 'missing':
      report.missingSegments++;
      topic.missing.push(repair.segment);
      message = `recovery: ${where} is missing (segments before and after it exist); its entries (${repair.entries ?? 'an unknown number of'}, if segmentEntries was the same when it was written) are not served. ` +
        'Restore the file from a backup (stop the node, put it back under that name) to deliver them';
      break;
    case 'cursor-reset':
      report.cursorResets++;
      topic.cursorReset = true;
      message = `recovery: the read cursor of topic ${JSON.stringify(repair.topic)} (${repair.file}, ${repair.bytes} bytes) is damaged or of an unknown format; ` +
        'the topic is read again from its first entry (entries already consumed are delivered again, none is lost)';
      break;
  }
  report.repairs.push({ ...repair, message });
}

export function emptyTopicRecovery(): TopicRecovery {
  return { droppedRegions: 0, droppedBytes: 0, truncatedBytes: 0, quarantined: [], rebuilt: false, missing: [], cursorReset: false };
}

/** Where repairs are reported: the node's `onRecoveryRepair` option, or a process warning. */
export function reportRepairs(report: RecoveryReport | undefined, sink?: (repair: RecoveryRepair) => void): void {
  if (!report) return;
  for (const repair of report.repairs) {
    if (sink) sink(repair);
    else process.emitWarning(repair.message, { code: 'WALRUS_STREAM_RECOVERY' });
  }
}

/** The node-wide figures METRICS shows under `embedded.recovery` (default mode). */
export function recoverySummary(report: RecoveryReport): Record<string, number> {
  return {
    topics: report.topics,
    entries: report.entries,
    truncated_bytes: report.truncatedBytes,
    dropped_bytes: report.droppedBytes,
    dropped_regions: report.droppedRegions,
    quarantined_segments: report.quarantinedSegments,
    rebuilt_topics: report.rebuiltTopics,
    quarantined_topics: report.quarantinedTopics,
    missing_segments: report.missingSegments,
    cursor_resets: report.cursorResets,
    skipped_dirs: report.skippedDirs.length,
  };
}
