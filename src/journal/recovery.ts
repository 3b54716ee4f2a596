import { rm } from 'node:fs/promises';
import { WalrusError } from '../errors/index.js';
import { LiveSet } from './live-set.js';
import { RecordType } from './record-format.js';
import { repairHeader } from './header-repair.js';
import { SEGMENT_HEADER_BYTES, checkSegmentHeader, correctSegmentHeader, listSegments, segmentName, segmentPath } from './segment-file.js';
import { scanSegment } from './segment-scan.js';
import { openSegmentForRecovery } from './segment-open.js';

export interface Recovered {
  live: LiveSet;
  /** The next seq to hand out: above every seq and base seq seen. */
  nextSeq: number;
  /** Highest segment id present (0 when none). */
  lastSegment: number;
}

/**
 * Rebuilds the live set from the segment files, oldest first: an APPEND
 * makes its seq live, a RELEASE ends it. A segment ending in a torn or
 * corrupt record is truncated just before it (and a warning says so); the
 * next write goes to a new segment anyway. Corruption in the middle of a
 * segment skips only the unreadable bytes (segment-scan.ts): the records
 * after them verify on their own and are kept, and a warning names what was
 * skipped. A segment whose header does not verify while its records do
 * (or one byte of the header is off) gets its header rewritten, with a
 * base seq that keeps seqs growing (header-repair.ts), and an error-level
 * warning. A file that is not a journal segment — a bad header and no
 * record right after it — stops the open rather than being overwritten.
 * A segment missing between two others (ids are consecutive, and only the
 * oldest are ever deleted) is reported at error level, like other damage
 * that loses entries, and recovery goes on with the rest.
 */
export async function recover(
  dir: string,
  warn: (message: string, context: Record<string, unknown>) => void,
): Promise<Recovered> {
  const live = new LiveSet();
  let nextSeq = 1;
  let lastSegment = 0;
  const ids = await listSegments(dir);
  for (const [index, id] of ids.entries()) {
    lastSegment = id;
    const path = segmentPath(dir, id);
    const handle = await openSegmentForRecovery(path);
    try {
      const { size } = await handle.stat();
      const headerBuf = Buffer.alloc(Math.min(size, SEGMENT_HEADER_BYTES));
      await handle.read(headerBuf, 0, headerBuf.length, 0);
      const header = checkSegmentHeader(headerBuf);
      const previous = ids[index - 1];
      if (previous !== undefined && id > previous + 1) {
        reportMissing(dir, previous, id, nextSeq, header.kind === 'ok' ? header.baseSeq : undefined, warn);
      }
      if (header.kind === 'torn') {
        // Shorter than its header: no record can be in it. Only the newest segment can be left so by a crash
        // (created, header not yet written); an older one was cut short after the fact, losing what it held.
        await handle.close();
        await rm(path, { force: true });
        const newest = id === ids[ids.length - 1];
        // The new active segment takes its id, so no gap is left that the next open would report as missing.
        if (newest) lastSegment = id - 1;
        warn(newest
          ? `journal segment ${path} had a torn header (${size} bytes) and held no records; removed it`
          : `journal segment ${path} is only ${size} bytes, shorter than its header, though newer segments follow it: it was cut short after it was written, ` +
            'and the entries journaled in it are lost (their source already handed them over); removed it. Check the disk', { path, bytes: size, ...(newest ? {} : { corrupt: true }) });
        continue;
      }
      // A damaged header is repaired once the records show the file is a segment: a one-byte fix that verifies
      // (any records), or a first record right after the header that does (header-repair.ts).
      const damaged = header.kind === 'foreign';
      const oneByteOff = damaged && correctSegmentHeader(headerBuf) !== undefined;
      const before = live.segments().length > 0 ? nextSeq : undefined;
      if (!damaged) nextSeq = Math.max(nextSeq, header.baseSeq);
      live.addSegment(id, size);
      let records = 0;
      let own = 0;
      const result = await scanSegment(handle, size, (record) => {
        records += 1;
        if (record.type === RecordType.APPEND) {
          const { seq, source, entry } = record.append;
          live.add({ seq, source, entry, segment: id, bytes: record.bytes });
          own = Math.max(own, seq + 1);
        } else {
          for (const range of record.ranges) {
            own = Math.max(own, range.first + range.count);
            for (let seq = range.first; seq < range.first + range.count; seq += 1) live.release(seq);
          }
        }
      }, { firstRecordRequired: damaged && !oneByteOff });
      nextSeq = Math.max(nextSeq, own);
      if (damaged) {
        if (records === 0 && !oneByteOff) {
          throw new WalrusError(
            'JOURNAL_ERROR',
            `journal segment ${path} is not readable: ${header.problem}, and ${result.problem === undefined ? 'nothing follows its header' : `no journal record follows it (${result.problem})`}. ` +
              'Move the file out of the journal directory to start (any records in it will not be replayed)',
            { context: { path } },
          );
        }
        const later = ids.slice(ids.indexOf(id) + 1);
        nextSeq = Math.max(nextSeq, await repairHeader({ dir, path, handle, header: headerBuf, problem: header.problem, before, own, records, later }, warn));
      }
      for (const gap of result.skipped) {
        warn(`journal segment ${path}: ${gap.problem}; ${gap.bytes} bytes from offset ${gap.offset} are unreadable and skipped, ` +
          'the records after them verify and are kept. Entries journaled in those bytes are lost (their source already handed them over); ' +
          'a release there is lost too, so its entries run again. Check the disk', { path, offset: gap.offset, skippedBytes: gap.bytes, corrupt: true });
      }
      if (result.problem !== undefined) {
        await handle.truncate(result.goodEnd);
        await handle.datasync();
        live.segment(id)!.size = result.goodEnd;
        warn(`journal segment ${path}: ${result.problem}; truncated ${size - result.goodEnd} bytes from there on`, {
          path,
          offset: result.goodEnd,
          droppedBytes: size - result.goodEnd,
        });
      }
    } finally {
      await handle.close().catch(() => {});
    }
  }
  return { live, nextSeq, lastSegment };
}

/**
 * Reports the segments missing between `previous` and `next`: ids are
 * handed out consecutively and only the oldest segments are ever deleted
 * (segment-manager.ts), so a gap means a file was removed from the middle.
 * Its appends had seqs from `fromSeq` (one above every seq before it) to
 * below `nextBase` (the next segment's base seq, when its header verifies).
 */
function reportMissing(
  dir: string,
  previous: number,
  next: number,
  fromSeq: number,
  nextBase: number | undefined,
  warn: (message: string, context: Record<string, unknown>) => void,
): void {
  const missing = Array.from({ length: next - previous - 1 }, (_, i) => segmentName(previous + 1 + i));
  const one = missing.length === 1;
  const names = one ? `segment ${missing[0]} is` : `segments ${missing[0]} to ${missing[missing.length - 1]} (${missing.length} files) are`;
  const it = one ? 'it' : 'them';
  const toSeq = nextBase === undefined ? undefined : nextBase - 1;
  const lost = toSeq === undefined
    ? `Entries journaled in ${it} with seqs from ${fromSeq} on that no later segment holds are lost (their source already handed them over)`
    : toSeq >= fromSeq
      ? `Entries journaled in ${it} with seqs ${fromSeq} to ${toSeq} that ${segmentName(next)} does not hold are lost (their source already handed them over)`
      : `No seq was handed out while ${one ? 'it was' : 'they were'} active, so no entry was journaled in ${it}`;
  warn(`journal ${names} missing from ${dir}, between ${segmentName(previous)} and ${segmentName(next)}: the journal numbers its segments ` +
    `consecutively and deletes only the oldest, so ${one ? 'a file was' : 'files were'} removed from the middle. ${lost}; entries released in ${it} run again. ` +
    `If ${one ? 'the file was' : 'the files were'} moved away, stop the process, put ${it} back and start again: the entries in ${it} are then replayed. ` +
    `Otherwise find out what deleted ${it}, and check the disk`, {
    dir, missing, after: segmentName(previous), before: segmentName(next), fromSeq, ...(toSeq === undefined ? {} : { toSeq }), corrupt: true,
  });
}
