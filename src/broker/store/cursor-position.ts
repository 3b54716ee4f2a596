/**
 * Where a topic's shared read cursor points, in a form that survives
 * recovery and retention. A count of entries does not: when recovery drops
 * a damaged entry in an older segment, every later entry moves down by
 * one, and a count would then point past intact entries that were never
 * read. A position names the segment and the file offset of the next entry
 * to read instead; entries do not move inside a segment file (recovery
 * never rewrites entries it keeps), so the position stays on the same
 * entry, and it stays valid when the segments before it are deleted.
 */
export interface CursorPosition {
  /** Segment number (as in the file name). */
  readonly segment: number;
  /** File offset of the next entry's header in that segment (or the segment's end). */
  readonly offset: number;
  /**
   * Entries the topic held in the segments numbered below `segment`,
   * deleted ones included: the index (over the topic's whole life) of that
   * segment's first entry. It keeps `total_entries` and `read_cursor`
   * counting from the topic's first entry after retention deleted the
   * segments that held it. Absent in cursors written before retention (WCP2).
   */
  readonly entriesBefore?: number;
}

/** What a cursor file holds: a position, or (files written before positions) a plain entry count. */
export type StoredCursor = CursorPosition | { readonly count: number };

/** The slice of a segment this module needs. */
export interface IndexedSegment {
  readonly number: number;
  /** File offset of each entry's header, ascending. */
  readonly offsets: readonly number[];
}

/**
 * The position of entry `index` (0-based over `segments`, whose first entry
 * has index `base` over the topic's life). `endOfLast` is the current
 * segment's end offset, used when `index` is the number of entries (caught up).
 */
export function positionOf(segments: readonly IndexedSegment[], index: number, endOfLast: number, base: number): Required<CursorPosition> {
  let left = index;
  let before = base;
  let s = 0;
  while (s < segments.length - 1 && left >= segments[s]!.offsets.length) {
    left -= segments[s]!.offsets.length;
    before += segments[s]!.offsets.length;
    s++;
  }
  const segment = segments[s]!;
  const offset = left < segment.offsets.length ? segment.offsets[left]! : endOfLast;
  return { segment: segment.number, offset, entriesBefore: before };
}

/**
 * The entry index (0-based over `segments`) a stored cursor points at: the
 * first entry at or after the position. A segment that is gone
 * (quarantined, deleted) or an offset past a truncated tail moves the
 * cursor to the next entry that exists, never beyond it.
 */
export function indexOfStored(segments: readonly IndexedSegment[], stored: StoredCursor | undefined): number {
  let total = 0;
  for (const segment of segments) total += segment.offsets.length;
  if (stored === undefined) return 0;
  if ('count' in stored) return Math.min(stored.count, total);
  let index = 0;
  for (const segment of segments) {
    if (segment.number < stored.segment) {
      index += segment.offsets.length;
      continue;
    }
    if (segment.number === stored.segment) index += lowerBound(segment.offsets, stored.offset);
    return index;
  }
  return total;
}

/** Index of the first value >= `target` in ascending `values`. */
function lowerBound(values: readonly number[], target: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
