import { rm, type FileHandle } from 'node:fs/promises';
import { shouldCompact, writeCompactedSegment } from './compaction.js';
import type { LiveSet, SegmentInfo } from './live-set.js';
import type { ResolvedJournalOptions } from './options.js';
import { SEGMENT_HEADER_BYTES, createSegment, segmentPath, syncDir, writeFullySync } from './segment-file.js';

/**
 * The files side of the journal: the active segment being appended to,
 * rolling to a new one, deleting released segments and compacting. Called
 * only from the journal's serial writer, so no two file operations overlap.
 *
 * Deletion goes strictly oldest-first. A RELEASE record always lives in the
 * same or a newer segment than the APPEND it ends, so deleting a segment
 * whose APPENDs are all released is safe only if every older segment is
 * gone too: otherwise the RELEASEs in it would vanish while their APPENDs in
 * an older file survive, and released entries would come back after a
 * restart. A long-unreleased entry in an old segment therefore pins every
 * newer one; compaction (copy the live entries into a fresh segment, then
 * drop all older files) is what keeps disk use bounded in that case.
 */
export class SegmentManager {
  readonly #options: ResolvedJournalOptions;
  readonly #live: LiveSet;
  #nextId: number;
  #handle: FileHandle | undefined;
  #active: SegmentInfo | undefined;
  #compactions = 0;

  constructor(options: ResolvedJournalOptions, live: LiveSet, nextId: number) {
    this.#options = options;
    this.#live = live;
    this.#nextId = nextId;
  }

  get activeId(): number {
    return this.#active!.id;
  }

  get compactions(): number {
    return this.#compactions;
  }

  get #sync(): boolean {
    return this.#options.fsync !== 'never';
  }

  /** Opens a fresh active segment (recovered files are never appended to) and tidies up. */
  async start(nextSeq: number): Promise<void> {
    await this.#roll(nextSeq);
    await this.maintain(nextSeq);
  }

  /**
   * Appends `chunks` to the active segment in one write; returns whether it was synced.
   *
   * The write itself is synchronous: once it returns the bytes are in the
   * OS page cache and survive a `kill -9` of this process, without waiting
   * for a thread-pool hop (only the `fdatasync` that guards against power
   * loss is asynchronous). Page-cache writes of a group commit take
   * microseconds, so the event loop barely notices.
   */
  async write(chunks: Buffer[]): Promise<boolean> {
    const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    writeFullySync(this.#handle!.fd, buf, this.#active!.size);
    this.#active!.size += buf.length;
    if (!this.#sync) return false;
    await this.#handle!.datasync();
    return true;
  }

  /** Rolls a full segment, deletes released ones and compacts when it pays off. */
  async maintain(nextSeq: number): Promise<void> {
    if (this.#active!.size >= this.#options.segmentBytes) await this.#roll(nextSeq);
    await this.#deleteReleased();
    const opts = this.#options;
    const compact = shouldCompact({
      segments: this.#live.segments().length,
      totalBytes: this.#live.totalBytes(),
      liveBytes: this.#live.liveBytes,
      minBytes: opts.compactMinBytes,
      maxLiveRatio: opts.compactMaxLiveRatio,
      maxSegments: opts.compactMaxSegments,
    });
    if (compact) await this.#compact(nextSeq);
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  async #roll(nextSeq: number): Promise<void> {
    const id = this.#nextId++;
    const handle = await createSegment(this.#options.dir, id, nextSeq, this.#sync);
    const previous = this.#handle;
    this.#handle = handle;
    this.#active = this.#live.addSegment(id, SEGMENT_HEADER_BYTES);
    // Everything written to the previous segment was synced by its commit already.
    await previous?.close();
    this.#options.onStep('segment-rolled');
  }

  async #deleteReleased(): Promise<void> {
    let deleted = 0;
    for (const info of this.#live.segments()) {
      if (info.id === this.#active!.id || info.live > 0) break;
      await rm(segmentPath(this.#options.dir, info.id), { force: true });
      this.#live.removeSegment(info.id);
      deleted += 1;
    }
    if (deleted === 0) return;
    if (this.#sync) await syncDir(this.#options.dir);
    this.#options.onStep('segments-deleted');
  }

  /**
   * Copies the live entries into segment C, starts a new active segment
   * C + 1, then deletes every segment older than C. The order matters for
   * recovery: C is complete (renamed into place) before any older file goes,
   * and RELEASEs of C's entries can only land in C + 1 or later.
   */
  async #compact(nextSeq: number): Promise<void> {
    const id = this.#nextId++;
    const entries = this.#live.entries();
    const { size, recordBytes } = await writeCompactedSegment(this.#options.dir, id, nextSeq, entries, this.#sync);
    this.#live.addSegment(id, size);
    this.#live.moveAll(id, (entry) => recordBytes.get(entry.seq)!);
    this.#options.onStep('compaction-written');
    await this.#roll(nextSeq);
    for (const info of this.#live.segments()) {
      if (info.id >= id) break;
      await rm(segmentPath(this.#options.dir, info.id), { force: true });
      this.#live.removeSegment(info.id);
    }
    if (this.#sync) await syncDir(this.#options.dir);
    this.#compactions += 1;
    this.#options.onStep('compaction-done');
  }
}
