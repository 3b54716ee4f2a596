import type { Logger } from 'pino';
import { WalrusError, serializeError, type SerializedError } from '../../errors/index.js';
import type { ChangeSet, KeyValueStore, PreparedWrites, StatePreload, StateWrites } from '../../state/index.js';
import type { PartitionedStore } from '../../state/store/partitioned-store.js';
import { openStores, type RestoreHooks, type StateClient } from './open-stores.js';
import type { Topology } from '../../topology/types.js';
import type { JournalLike, RecordCodec } from '../pipeline/pipeline-io.js';
import type { Job, StateHooks } from '../coordinator/stage-runner.js';
import { faultPoint } from '../../util/fault-points.js';
import { attachStaged, type EntryChange } from './state-tickets.js';
import type { Ticket } from '../coordinator/ticket.js';

export type { RestoreHooks, StateClient } from './open-stores.js';

/**
 * Per-record bookkeeping the coordinator keeps (`JobMeta`): the state id
 * needs the entry's ticket and the record's index in it; a record a
 * processor derived carries its own `path` (see {@link statePath}).
 */
interface StateMeta { ticket: Ticket; index?: number; path?: string }

/** What the state wiring knows about one stateful processor. */
interface StatefulProcessor {
  stores: string[];
  /** Longest path from a source: an entry's changes commit in descending rank (downstream stores first). */
  rank: number;
  /** Stores another processor also uses: their ids name this processor, so two processors' updates of one record stay apart. */
  shared: Set<string>;
}

/**
 * The runtime side of keyed state (docs/state.md, "Wiring"): the coordinator
 * owns every store; a stateful processor's task carries its record key's
 * entries, the worker returns the writes, the coordinator stages them at
 * once (before the key's next record is dispatched) and commits them just
 * before the record's journal entry is released.
 */
export class RuntimeState {
  /** Every store a processor uses: the partitions of it this instance owns (one for an unpartitioned store). */
  readonly stores: ReadonlyMap<string, PartitionedStore>;
  readonly #topology: Topology;
  readonly #logger: Logger | undefined;
  /** The stateful processors. */
  readonly #stateful = new Map<string, StatefulProcessor>();
  /** Processors with a stateful processor downstream: the records they derive need their own state ids. */
  readonly #upstream = new Set<string>();
  /** Journal seq → record state ids, until the release is durable. */
  readonly #idsBySeq = new Map<number, string[]>();
  /** Seqs of the entries a crash left unreleased: only their records can have been applied already. */
  readonly #recovered = new Set<number>();
  /** Told when a stateful entry's change had to be abandoned or could not commit (the coordinator stops the pipeline). */
  #onFatal: ((error: WalrusError) => void) | undefined;
  #failures = 0;

  private constructor(topology: Topology, stores: Map<string, PartitionedStore>, logger?: Logger) {
    this.#topology = topology;
    this.stores = stores;
    this.#logger = logger;
    const ranks = processorRanks(topology);
    const users = new Map<string, number>();
    for (const p of Object.values(topology.processors)) for (const s of p.stores) users.set(s, (users.get(s) ?? 0) + 1);
    for (const p of Object.values(topology.processors)) {
      if (p.stores.length === 0) continue;
      this.#stateful.set(p.name, { stores: [...p.stores], rank: ranks.get(p.name) ?? 0, shared: new Set(p.stores.filter((s) => users.get(s)! > 1)) });
      for (const name of upstreamOf(topology, p.name)) this.#upstream.add(name);
    }
  }

  /** Called (once per failed entry) when a staged change had to be abandoned or could not be committed; see state-tickets.ts. */
  onFatal(handler: (error: WalrusError) => void): void {
    this.#onFatal = handler;
  }

  /**
   * Opens every store a processor uses — of a partitioned store, the
   * partitions this instance owns (`hooks.assignment`) — registering the
   * changelog topics, re-publishing what a crash left unpublished, and
   * restoring an empty partition (or one taken over from another instance)
   * from its changelog: open-stores.ts. Returns undefined when no processor
   * is stateful.
   */
  static async open(topology: Topology, client: StateClient, logger?: Logger, hooks: RestoreHooks = {}): Promise<RuntimeState | undefined> {
    if (!Object.values(topology.processors).some((p) => p.stores.length > 0)) return undefined;
    return new RuntimeState(topology, await openStores(topology, client, logger, hooks), logger);
  }

  /**
   * Start-up recovery: keeps only the applied ids of the journal's unreleased
   * entries' records (ids of records released before a crash can never match
   * again). Every id starts with its entry's `${journalSeq}:`.
   */
  recover(journal: JournalLike | undefined, _codec?: RecordCodec): void {
    for (const { seq, source } of journal?.unreleased() ?? []) if (Object.hasOwn(this.#topology.sources, source)) this.#recovered.add(seq);
    const recovered = this.#recovered;
    for (const store of this.stores.values()) store.forgetAppliedExcept((id) => recovered.has(seqOfStateId(id)));
  }

  /**
   * True when `processor` already committed this (recovered) record's
   * effects in every one of its stores: its outputs were acknowledged
   * before that commit, and every stateful processor downstream of it
   * committed before it did (state-tickets.ts), so the record is not given
   * to the processor again.
   */
  alreadyApplied(processor: string, meta: StateMeta): boolean {
    if (this.#recovered.size === 0 || !this.#recovered.has(meta.ticket.seq)) return false;
    const info = this.#stateful.get(processor);
    const path = statePath(meta);
    if (info === undefined || path === undefined) return false;
    return info.stores.every((name) => this.stores.get(name)!.hasApplied(storeId(info, name, processor, path)));
  }

  /** True for a record of an entry a crash left unreleased (it runs member by member, see Coordinator). */
  isRecovered(meta: StateMeta): boolean {
    return this.#recovered.size > 0 && this.#recovered.has(meta.ticket.seq);
  }

  /**
   * The bookkeeping of output `position` of a record `processor` handled, for
   * the processors it goes to: with a stateful processor downstream it gets
   * its own path (`<parent path>/<position>`), so each derived record has its
   * own state id — the same after a restart, as long as the processor emits
   * the same outputs in the same order for the same input.
   */
  derive<M extends StateMeta>(processor: string, meta: M, position: number): M {
    if (!this.#upstream.has(processor)) return meta;
    const path = statePath(meta);
    return path === undefined ? meta : { ...meta, path: `${path}/${position}` };
  }

  /** The record key's entries of each store `processor` declared, to ship with the task (undefined: not stateful). */
  preload(processor: string, job: Job): StatePreload[] | undefined {
    const names = this.#topology.processors[processor]?.stores ?? [];
    if (names.length === 0 || job.key === undefined || job.key === '') return undefined;
    // The processor runner hands this back to `accept` with the result (the staleness check, docs/state.md, Wiring step 3).
    return names.map((name) => {
      const store = this.stores.get(name)!;
      const part = store.partFor(job.key!);
      // A key of a partition not owned here: the processor fails on the record when it opens the store (worker-state.ts).
      if (part === undefined) return { store: name, entries: [], refused: store.refusal(job.key!)! };
      try {
        return { store: name, entries: part.preload(job.key!) };
      } catch (error) {
        // A key no store can hold (longer than its key limit): the processor fails on this record when it opens the
        // store, and the record is dead-lettered. Thrown here it ended the run, and again on every restart.
        return { store: name, entries: [], refused: `${(error as Error).message}; a record key is a state key: key records by something shorter (a hash of it, say)` };
      }
    });
  }

  /**
   * Stages what a worker returned, synchronously (before the key's next record
   * is dispatched), and attaches the staged changes to the record's ticket so
   * they commit before its release. Returns an error instead when the writes
   * are refused (outside the key's scope; state changed meanwhile → retriable).
   */
  accept(processor: string, job: Job, writes: StateWrites[] | undefined, sent: StatePreload[] | undefined): SerializedError | undefined {
    if (!writes || writes.length === 0) return undefined;
    const meta = job.meta as StateMeta;
    const info = this.#stateful.get(processor);
    const path = statePath(meta);
    const recovered = path !== undefined && this.#recovered.has(meta.ticket.seq);
    // The common case, one store written by a processor that declares only it: no intermediate lists.
    if (writes.length === 1 && info !== undefined && info.stores.length === 1 && writes[0]!.store === info.stores[0] && !recovered) {
      const w = writes[0]!;
      const id = path === undefined ? undefined : storeId(info, w.store, processor, path);
      let store: KeyValueStore;
      let change;
      try {
        store = partOf(this.stores.get(w.store)!, job.key);
        change = store.stage(store.prepareWire(w.writes, job.key, sent?.[0]?.store === w.store ? sent[0].entries : undefined), id === undefined ? [] : [id]);
      } catch (error) {
        return serializeError(error);
      }
      attachStaged(meta.ticket, { store, change, rank: info.rank }, this.#onStateFailure);
      if (id !== undefined) this.#rememberIds(meta.ticket.seq, id);
      return undefined;
    }
    const staged: EntryChange[] = [];
    const ids: string[] = [];
    try {
      const changes = writes.map((w) => {
        const logical = this.stores.get(w.store);
        if (!logical || (info !== undefined && !info.stores.includes(w.store))) {
          throw new WalrusError('STATE_STORE_ERROR', `a worker returned writes for store "${w.store}", which processor "${processor}" did not declare`, { retriable: false });
        }
        const store = partOf(logical, job.key);
        const basedOn = sent?.find((p) => p.store === w.store)?.entries;
        return { name: w.store, store, set: store.prepareWire(w.writes, job.key, basedOn) as ChangeSet | PreparedWrites };
      });
      // A processor with several stores records the id in each of them, written or not, so that
      // "applied in every store of the processor" (alreadyApplied) means the whole record.
      if (info !== undefined && info.stores.length > 1 && path !== undefined && job.key !== undefined) {
        for (const name of info.stores) {
          if (changes.some((c) => c.name === name)) continue;
          const store = partOf(this.stores.get(name)!, job.key);
          changes.push({ name, store, set: store.changeSet(job.key) });
        }
      }
      for (const { name, store, set } of changes) {
        const id = path === undefined ? undefined : info === undefined ? path : storeId(info, name, processor, path);
        // A record re-processed after a crash between two stores' commits: the store that has it already keeps its effect.
        if (id !== undefined && recovered && store.hasApplied(id)) continue;
        staged.push({ store, change: store.stage(set, id === undefined ? [] : [id]), rank: info?.rank ?? 0 });
        if (id !== undefined) ids.push(id);
      }
    } catch (error) {
      return serializeError(error);
    }
    for (const change of staged) attachStaged(meta.ticket, change, this.#onStateFailure);
    for (const id of ids) this.#rememberIds(meta.ticket.seq, id);
    return undefined;
  }

  readonly #onStateFailure = (ticket: Ticket, error: WalrusError): void => this.#fatal(ticket, error);

  #rememberIds(seq: number, id: string): void {
    const known = this.#idsBySeq.get(seq);
    if (known) known.push(id);
    else this.#idsBySeq.set(seq, [id]);
  }

  #fatal(ticket: Ticket, error: WalrusError): void {
    // The first one stops the pipeline (and is logged there); the entries that fail while it stops only matter for debugging.
    if (this.#failures++ > 0) {
      this.#logger?.debug({ seq: ticket.seq, source: ticket.source, err: error.message }, 'state change of a journal entry not committed; the entry stays in the journal');
      return;
    }
    this.#onFatal?.(error);
  }

  /** Wraps the journal so that, once a release is durable, the stores may forget the released records' ids. */
  wrapJournal(journal: JournalLike): JournalLike {
    return {
      append: (items) => journal.append(items),
      unreleased: () => journal.unreleased(),
      release: async (seqs) => {
        await journal.release(seqs);
        faultPoint('journal.released');
        const ids = seqs.flatMap((seq) => this.#idsBySeq.get(seq) ?? []);
        for (const seq of seqs) this.#idsBySeq.delete(seq);
        if (ids.length > 0) for (const store of this.stores.values()) store.markReleased(ids);
      },
    };
  }

  async close(): Promise<void> {
    for (const [name, store] of this.stores) {
      await store.close().catch((error: unknown) => this.#logger?.error({ err: serializeError(error), store: name }, 'closing state store failed'));
    }
  }
}

/**
 * The partition of `store` a record key's writes go to (the only one of an
 * unpartitioned store). Throws a non-retriable STATE_STORE_ERROR for a key
 * whose partition this instance does not own, or a keyless record writing a
 * partitioned store: the record is dead-lettered, naming why.
 */
function partOf(store: PartitionedStore, key: string | undefined): KeyValueStore {
  if (store.partitions === 1) return store.storeFor('');
  if (key === undefined) {
    throw new WalrusError('STATE_STORE_ERROR', `store "${store.name}" is partitioned by record key, and a record without a key wrote it; give the record a key`, {
      retriable: false, context: { store: store.name },
    });
  }
  return store.storeFor(key);
}

/** `${journalSeq}:${indexInEntry}`: stable across restarts (docs/state.md). */
export function stateId(seq: number, index: number): string {
  return `${seq}:${index}`;
}

/**
 * A record's state path: `${journalSeq}:${indexInEntry}` for a record of a
 * source entry, `<parent path>/<output position>` for one a processor derived
 * (RuntimeState.derive). Undefined without a journal seq (no journal, or its
 * append failed): nothing is recovered then, so nothing needs an id.
 */
export function statePath(meta: StateMeta): string | undefined {
  if (meta.path !== undefined) return meta.path;
  return meta.ticket.seq < 0 || meta.index === undefined ? undefined : stateId(meta.ticket.seq, meta.index);
}

/** The journal seq a state id belongs to. */
export function seqOfStateId(id: string): number {
  return Number(id.slice(0, id.indexOf(':')));
}

/** The id a store records for `processor`'s update from the record at `path` (`path>processor` in a store two processors share). */
function storeId(info: StatefulProcessor, store: string, processor: string, path: string): string {
  return info.shared.has(store) ? `${path}>${processor}` : path;
}

/** Each processor's longest distance from a source (1 for a processor reading a source). */
function processorRanks(topology: Topology): Map<string, number> {
  const ranks = new Map<string, number>();
  const rank = (name: string, seen: Set<string>): number => {
    const known = ranks.get(name);
    if (known !== undefined) return known;
    if (seen.has(name)) return 0; // a cycle (refused by validation): any order
    seen.add(name);
    const p = topology.processors[name];
    let r = 1;
    for (const input of p?.inputs ?? []) if (input.kind === 'processor') r = Math.max(r, rank(input.name, seen) + 1);
    ranks.set(name, r);
    return r;
  };
  for (const name of Object.keys(topology.processors)) rank(name, new Set());
  return ranks;
}

/** Every processor upstream of `processor` (whose outputs can reach it). */
function upstreamOf(topology: Topology, processor: string): Set<string> {
  const found = new Set<string>();
  const visit = (name: string) => {
    for (const input of topology.processors[name]?.inputs ?? []) {
      if (input.kind !== 'processor' || found.has(input.name)) continue;
      found.add(input.name);
      visit(input.name);
    }
  };
  visit(processor);
  return found;
}

/** The processor runner's hooks for one processor; undefined when it declares no stores. */
export function stateHooks(state: RuntimeState | undefined, processor: string, stores: readonly string[]): StateHooks | undefined {
  if (state === undefined || stores.length === 0) return undefined;
  return { preload: (job) => state.preload(processor, job), accept: (job, writes, sent) => state.accept(processor, job, writes, sent) };
}
