import { open, type FileHandle } from 'node:fs/promises';
import {
  SEGMENT_HEADER_BYTES,
  checkSegmentHeader,
  correctSegmentHeader,
  encodeSegmentHeader,
  segmentName,
  segmentPath,
  writeFully,
} from './segment-file.js';

/**
 * Repairing a segment header that does not verify, in a file whose records
 * do (recovery.ts decides that): its base seq is taken from what proves it,
 * and the header is rewritten in place.
 *
 * Why the proofs hold: the base seq is the journal's next seq when the
 * segment was created. Every seq handed out before that is in this segment
 * (appends queued before the roll land in it), in a segment before it, or
 * below the base seq of a segment before it; every seq in this segment, and
 * every seq handed out before it, is below the base seq of any later
 * segment. Seqs that were handed out but never written belonged to appends
 * that never resolved, so nothing used them.
 */

export interface DamagedHeader {
  dir: string;
  path: string;
  handle: FileHandle;
  /** The header bytes as found. */
  header: Buffer;
  problem: string;
  /** The next seq after every segment before this one; undefined when none precedes it. */
  before: number | undefined;
  /** One above the highest seq its records name (APPEND seqs and RELEASE ranges); 0 without records. */
  own: number;
  records: number;
  /** Ids of the segments after this one, ascending. */
  later: readonly number[];
}

export interface InferredBase {
  baseSeq: number;
  /** How `baseSeq` was found, for the warning. */
  how: string;
  /** False when nothing shows which seqs were handed out before the segment was created. */
  proven: boolean;
}

/** The base seq a header states: intact, or one byte away from intact. */
function statedBase(header: Buffer): number | undefined {
  const check = checkSegmentHeader(header);
  return check.kind === 'ok' ? check.baseSeq : correctSegmentHeader(header)?.baseSeq;
}

/** The first later segment whose header states a base seq, if any. */
async function nextStatedBase(dir: string, later: readonly number[]): Promise<{ id: number; baseSeq: number } | undefined> {
  for (const id of later) {
    const handle = await open(segmentPath(dir, id), 'r');
    try {
      const buf = Buffer.alloc(SEGMENT_HEADER_BYTES);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      const baseSeq = statedBase(buf.subarray(0, bytesRead));
      if (baseSeq !== undefined && Number.isSafeInteger(baseSeq)) return { id, baseSeq };
    } finally {
      await handle.close();
    }
  }
  return undefined;
}

export async function inferBaseSeq(damaged: DamagedHeader): Promise<InferredBase> {
  const next = await nextStatedBase(damaged.dir, damaged.later);
  const fix = correctSegmentHeader(damaged.header);
  // A one-byte fix verifies by the header checksum; it must also fit between the segments around it.
  if (fix && Number.isSafeInteger(fix.baseSeq) && fix.baseSeq >= (damaged.before ?? 1) && fix.baseSeq <= (next?.baseSeq ?? Infinity)) {
    return { baseSeq: fix.baseSeq, proven: true, how: `only byte ${fix.offset} of the header was wrong, and with it restored the header checksum verifies` };
  }
  const floor = Math.max(damaged.before ?? 1, damaged.own, 1);
  if (next) {
    return {
      baseSeq: Math.max(next.baseSeq, floor),
      proven: true,
      how: `the base seq of the next segment, ${segmentName(next.id)}, which is above every seq handed out before this one was created`,
    };
  }
  if (damaged.before !== undefined) {
    return { baseSeq: floor, proven: true, how: 'one above every seq in it and in the segments before it, which hold every seq handed out before it was created' };
  }
  return {
    baseSeq: floor,
    proven: false,
    how: `one above every seq in it; no other segment shows which seqs were handed out before it was created, so seqs from ${floor} on ` +
      'may repeat seqs of deleted segments, and a record whose id defaults to <topic>@<seq> may then be taken for a duplicate',
  };
}

/**
 * Rewrites the damaged header with the inferred base seq and reports it;
 * returns the base seq. In place: only the 16 header bytes change, and a
 * crash mid-write leaves a header that still does not verify, which the
 * next recovery repairs again (the records are not touched).
 */
export async function repairHeader(
  damaged: DamagedHeader,
  warn: (message: string, context: Record<string, unknown>) => void,
): Promise<number> {
  const { baseSeq, how, proven } = await inferBaseSeq(damaged);
  await writeFully(damaged.handle, encodeSegmentHeader(baseSeq), 0);
  await damaged.handle.datasync();
  const held = damaged.records === 0 ? 'it holds no records' : `the ${damaged.records} records in it verify and are kept`;
  warn(`journal segment ${damaged.path} had a damaged header (${damaged.problem}), but ${held}; rewrote the header with base seq ${baseSeq}: ${how}. Check the disk`, {
    path: damaged.path, baseSeq, records: damaged.records, seqsProven: proven, corrupt: true,
  });
  return baseSeq;
}
