import { join } from 'node:path';
import type { WireWrites } from '../model/change-set.js';
import { encodeChangelogEntries, type AppliedRecords } from '../changelog/changelog-codec.js';
import type { ChangelogPublisher } from '../changelog/changelog-publisher.js';
import { faultPoint } from '../../util/fault-points.js';
import { FrameLog } from './frame-log.js';
import { MemoryState } from './memory-state.js';
import { STORE_FILES } from './paths.js';
import { clearRestoreMarker } from '../changelog/restore.js';
import { readSnapshot, writeSnapshot } from './snapshot-file.js';
import type { StagedChange } from '../model/staged-change.js';
import { decodeLogBody, encodeLogBody, type LogBody } from './log-body.js';
import { ForeignIds, type ForeignIdList } from './foreign-ids.js';

/** About how much a commit-log frame holds before a group commit starts another (well under MAX_LOG_FRAME_BYTES). */
const FRAME_TARGET_BYTES = 16 * 1024 * 1024;

/**
 * The durable side of a store: its files, the committed state they hold,
 * the applied record ids and the changelog. Only the store's single writer
 * (CommitWriter) and open/restore call the mutating methods, one at a time.
 */
export class StoreCore {
  readonly name: string;
  readonly dir: string;
  readonly state = new MemoryState();
  readonly applied = new Set<string>();
  /** Applied ids of other journals a restore found (a partition taken over): kept and re-published, never used here (foreign-ids.ts). */
  readonly foreign = new ForeignIds();
  readonly log: FrameLog;
  readonly publisher: ChangelogPublisher | undefined;
  /** The journal whose record ids this store's commits carry to its changelog (none: ids are not published). */
  journal: string | undefined;
  readonly tornBytes: number;
  seq = 0;
  #snapshotSeq = 0;
  #replayed: LogBody[] = [];

  private constructor(name: string, dir: string, log: FrameLog, tornBytes: number, publisher: ChangelogPublisher | undefined) {
    this.name = name;
    this.dir = dir;
    this.log = log;
    this.tornBytes = tornBytes;
    this.publisher = publisher;
  }

  /** Loads the snapshot and replays the log after it (truncating a torn tail). */
  static async load(name: string, dir: string, fsync: boolean, publisher: ChangelogPublisher | undefined): Promise<StoreCore> {
    const snapshot = await readSnapshot(join(dir, STORE_FILES.snapshot), name);
    const { log, frames, tornBytes } = await FrameLog.open(join(dir, STORE_FILES.log), fsync);
    const core = new StoreCore(name, dir, log, tornBytes, publisher);
    try {
      if (snapshot) {
        for (const [k, v] of snapshot.entries) core.state.setCommitted(k, v);
        for (const id of snapshot.applied) core.applied.add(id);
        core.foreign.addAll(snapshot.foreign ?? []);
        core.seq = snapshot.seq;
        core.#snapshotSeq = snapshot.seq;
      }
      for (const frame of frames) {
        const body = decodeLogBody(frame, log.path, name);
        if (body.s <= core.seq) continue; // already in the snapshot (crash between snapshot rename and log reset)
        core.state.applyCommitted(body.w);
        for (const id of body.c) core.applied.add(id);
        if (body.f) core.foreign.addAll(body.f);
        core.seq = body.s;
        core.#replayed.push(body);
      }
    } catch (error) {
      await log.close();
      throw error;
    }
    return core;
  }

  /** Writes a batch of staged changes to the log, applies them, publishes them; marks them committed. */
  async writeBatch(batch: StagedChange[]): Promise<void> {
    // One frame per group commit, not per change: the group is written (and
    // fsynced) as a whole anyway, a torn tail drops it as a whole, and replay
    // applies its writes in order exactly as it would the changes' frames.
    // A msgpack map per record was the largest share of the commit's CPU.
    // A group is split into frames of about FRAME_TARGET_BYTES, at change boundaries: the reader bounds a frame
    // (MAX_LOG_FRAME_BYTES), and 9,000 changes of 32 KiB queued behind one write made a 288 MB frame that the next
    // open refused as corruption. The frames go out in one write, as before.
    let seq = this.seq;
    const bodies: Uint8Array[] = [];
    let writes: WireWrites = [];
    let frameCovers: string[] = [];
    let bytes = 0;
    let pending = false;
    const covers: string[] = [];
    for (const staged of batch) {
      staged.seq = ++seq;
      pending = true;
      for (const write of staged.writes) {
        writes.push(write);
        bytes += write[0].length + (write[1]?.length ?? 0);
      }
      for (const id of staged.covers) { covers.push(id); frameCovers.push(id); }
      if (bytes >= FRAME_TARGET_BYTES) {
        bodies.push(encodeLogBody(this.name, seq, writes, frameCovers));
        writes = [];
        frameCovers = [];
        bytes = 0;
        pending = false;
      }
    }
    if (pending) bodies.push(encodeLogBody(this.name, seq, writes, frameCovers));
    await this.log.append(bodies);
    faultPoint('state.log-written');
    this.seq = seq;
    for (const staged of batch) {
      this.state.applyCommitted(staged.writes, staged);
      for (const id of staged.covers) this.applied.add(id);
    }
    if (this.publisher) {
      // One series of entries per flush, not per commit: only each key's last write in the batch matters
      // to a restore (it applies entries in order), and fewer, fuller entries are far cheaper to produce.
      const last = new Map<string, Uint8Array | null>();
      for (const staged of batch) for (const [key, bytes] of staged.writes) last.set(key, bytes);
      const entries = last.size === 0 ? [] : encodeChangelogEntries(this.name, this.seq, [...last], this.#appliedRecords(covers));
      await this.publisher.publish(entries);
      await this.publisher.writeCursor(this.seq);
    }
    for (const staged of batch) staged.setPhase('committed');
  }

  /** Appends restored writes, the ids of the records they applied, and other journals' ids, locally (no publish: they came from the changelog). */
  async appendLocal(writes: WireWrites, applied: string[] = [], foreign: ForeignIdList = []): Promise<void> {
    const seq = this.seq + 1;
    await this.log.append([encodeLogBody(this.name, seq, writes, applied, foreign)]);
    this.seq = seq;
    this.state.applyCommitted(writes);
    for (const id of applied) this.applied.add(id);
    this.foreign.addAll(foreign);
  }

  #appliedRecords(ids: string[]): AppliedRecords | undefined {
    return this.journal === undefined || ids.length === 0 ? undefined : { journal: this.journal, ids };
  }

  /** Snapshot of the committed state, then an empty log. */
  async snapshot(): Promise<void> {
    await writeSnapshot(join(this.dir, STORE_FILES.snapshot), {
      store: this.name,
      seq: this.seq,
      entries: this.state.committedEntries(),
      applied: [...this.applied],
      foreign: this.foreign.list(),
    });
    await this.log.reset();
    this.#snapshotSeq = this.seq;
  }

  /**
   * Publishes the whole committed state as one compacted series of entries:
   * first the other journals' ids (entries without writes, each tagged with
   * its journal, oldest first), so that a restore elsewhere keeps them too,
   * then the state with this journal's ids.
   */
  async republishAll(): Promise<void> {
    const entries: string[] = [];
    for (const [journal, ids] of this.foreign.list()) for (const entry of encodeChangelogEntries(this.name, this.seq, [], { journal, ids })) entries.push(entry);
    for (const entry of encodeChangelogEntries(this.name, this.seq, this.state.committedEntries(), this.#appliedRecords([...this.applied]))) entries.push(entry);
    await this.publisher!.publish(entries);
    await this.publisher!.writeCursor(this.seq, true);
  }

  /** On open: publish what a crash left unpublished (log frames after the cursor, or the whole state if a snapshot swallowed them). */
  async catchUpChangelog(afterRestore: boolean): Promise<void> {
    const replayed = this.#replayed;
    this.#replayed = [];
    const publisher = this.publisher!;
    if (afterRestore) {
      await this.republishAll();
      await clearRestoreMarker(this.dir);
      return;
    }
    const cursor = await publisher.readCursor();
    if (cursor >= this.seq) return;
    if (this.#snapshotSeq > cursor) {
      await this.republishAll();
      return;
    }
    const entries = replayed.filter((b) => b.s > cursor && b.w.length > 0).flatMap((b) => encodeChangelogEntries(this.name, b.s, b.w, this.#appliedRecords(b.c)));
    await publisher.publish(entries);
    await publisher.writeCursor(this.seq, true);
  }
}
