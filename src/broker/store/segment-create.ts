import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import { SEGMENT_HEADER_BYTES, segmentHeader } from './segment-format.js';
import { withFile } from '../../util/disk-full.js';

/**
 * Creates segment `number` at `path` and writes its header. Never truncates:
 * a file already there is reused only when it holds no entry (at most a
 * header, left by a crash mid-REGISTER or mid-rollover); one with more
 * bytes is refused, so a code path that misjudges which files exist fails
 * loudly instead of destroying entries.
 */
export function createSegment(path: string, number: number): number {
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    const size = fstatSync(fd).size;
    if (size > SEGMENT_HEADER_BYTES) {
      throw new Error(`refusing to overwrite segment file ${path}: it already holds ${size} bytes (entries a new segment would destroy); stop the node and move the file aside`);
    }
    writeFully(fd, segmentHeader(number), SEGMENT_HEADER_BYTES, 0);
  } catch (error) {
    closeSync(fd);
    throw withFile(error, path);
  }
  return fd;
}

export function writeFully(fd: number, buffer: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) done += writeSync(fd, buffer, done, length - done, position + done);
}
