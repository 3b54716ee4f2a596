import type { Logger } from 'pino';
import { WalrusError, serializeError, type SerializedError } from '../errors/index.js';
import { KeyValueStore, storeDir, type StagedChange, type StatePreload, type StateWrites } from '../state/index.js';
import type { Topology } from '../topology/types.js';
import type { JournalLike, RecordCodec } from './pipeline-io.js';
import type { Job, StateHooks } from './processor-runner.js';
import { attachStaged } from './state-tickets.js';
import type { Ticket } from './ticket.js';

/** What the state wiring needs from the Walrus client. */
export interface StateClient {
  register(topic: string): Promise<void>;
  putMany(topic: string, entries: string[]): Promise<void>;
  getMany(topic: string, maxEntries: number): Promise<Buffer[]>;
}

/** Per-record bookkeeping the coordinator keeps (`JobMeta`): the state id needs the entry's ticket and the record's index in it. */
interface StateMeta { ticket: Ticket; index?: number }

/** Entries shipped with a dispatched job, kept by reference for the staleness check (docs/state.md, Wiring step 3). */
const sentPreloads = new WeakMap<Job, StatePreload[]>();

/**
 * The runtime side of keyed state (docs/state.md, "Wiring"): the coordinator
 * owns every store; a stateful processor's task carries its record key's
 * entries, the worker returns the writes, the coordinator stages them at
 * once (before the key's next record is dispatched) and commits them just
 * before the record's journal entry is released.
 */
export class RuntimeState {
  readonly stores: ReadonlyMap<string, KeyValueStore>;
  readonly #topology: Topology;
  readonly #logger: Logger | undefined;
  /** Per source: the stores a record of it can reach (recovery skips a record only when all of them applied it). */
  readonly #reachable = new Map<string, string[]>();
  /** Journal seq → record state ids, until the release is durable. */
  readonly #idsBySeq = new Map<number, string[]>();
  /** Seqs of the entries a crash left unreleased: only their records can have been applied already. */
  readonly #recovered = new Set<number>();

  private constructor(topology: Topology, stores: Map<string, KeyValueStore>, logger?: Logger) {
    this.#topology = topology;
    this.stores = stores;
    this.#logger = logger;
    for (const source of Object.keys(topology.sources)) this.#reachable.set(source, reachableStores(topology, source));
  }

  /**
   * Opens every store a processor uses (registering its changelog topic and
   * re-publishing what a crash left unpublished), restoring an empty one from
   * its changelog. Returns undefined when no processor is stateful.
   */
  static async open(topology: Topology, client: StateClient, logger?: Logger): Promise<RuntimeState | undefined> {
    const used = new Set(Object.values(topology.processors).flatMap((p) => p.stores));
    if (used.size === 0) return undefined;
    const stores = new Map<string, KeyValueStore>();
    try {
      for (const name of used) {
        const spec = topology.stores[name]!;
        await client.register(spec.changelog);
        const store = await KeyValueStore.open({
          dir: storeDir(topology.stateDir, topology.app, name), name, fsync: spec.fsync, snapshotEveryBytes: spec.snapshotEvery,
          changelog: {
            publish: (entries) => client.putMany(spec.changelog, entries),
            onPublishError: (error, attempt) => logger?.warn({ err: serializeError(error), store: name, attempt }, 'changelog publish failed; retrying (commits wait)'),
          },
        });
        stores.set(name, store);
        if (store.seq === 0 || store.restoreIncomplete) {
          const report = await store.restoreFromChangelog(() => client.getMany(spec.changelog, spec.restoreBatch));
          if (report.entries > 0) logger?.info({ store: name, ...report }, 'state store restored from its changelog');
        }
      }
    } catch (error) {
      for (const store of stores.values()) await store.close().catch(() => undefined);
      throw error;
    }
    return new RuntimeState(topology, stores, logger);
  }

  /**
   * Start-up recovery: keeps only the applied ids of the journal's unreleased
   * records (ids of records released before a crash can never match again).
   */
  recover(journal: JournalLike | undefined, codec: RecordCodec): void {
    const keep: string[] = [];
    for (const { seq, source, entry } of journal?.unreleased() ?? []) {
      const spec = this.#topology.sources[source];
      if (!spec) continue;
      let records = 1;
      try { records = codec.decode(spec, entry).length; } catch { /* undecodable: dead-lettered, touches no state */ }
      for (let i = 0; i < records; i += 1) keep.push(stateId(seq, i));
      this.#recovered.add(seq);
    }
    for (const store of this.stores.values()) store.forgetAppliedExcept(keep);
  }

  /**
   * True when a (recovered) record's effects are already committed in every
   * store it can reach: its outputs were acknowledged before the commit, so
   * it is released without processing it again.
   */
  alreadyApplied(source: string, meta: StateMeta): boolean {
    if (!this.#recovered.has(meta.ticket.seq)) return false;
    const id = idOf(meta);
    if (id === undefined) return false;
    const reachable = this.#reachable.get(source) ?? [];
    return reachable.length > 0 && reachable.every((name) => this.stores.get(name)?.hasApplied(id) ?? false);
  }

  /** The record key's entries of each store `processor` declared, to ship with the task (undefined: not stateful). */
  preload(processor: string, job: Job): StatePreload[] | undefined {
    const names = this.#topology.processors[processor]?.stores ?? [];
    if (names.length === 0 || job.key === undefined || job.key === '') return undefined;
    const preload = names.map((name) => ({ store: name, entries: this.stores.get(name)!.preload(job.key!) }));
    sentPreloads.set(job, preload);
    return preload;
  }

  /**
   * Stages what a worker returned, synchronously (before the key's next record
   * is dispatched), and attaches the staged changes to the record's ticket so
   * they commit before its release. Returns an error instead when the writes
   * are refused (outside the key's scope; state changed meanwhile → retriable).
   */
  accept(job: Job, writes: StateWrites[] | undefined): SerializedError | undefined {
    const sent = sentPreloads.get(job);
    sentPreloads.delete(job);
    if (!writes || writes.length === 0) return undefined;
    const meta = job.meta as StateMeta;
    const id = idOf(meta);
    const staged: Array<{ store: KeyValueStore; change: StagedChange }> = [];
    try {
      const changes = writes.map((w) => {
        const store = this.stores.get(w.store);
        if (!store) throw new WalrusError('STATE_STORE_ERROR', `a worker returned writes for store "${w.store}", which no processor declared`, { retriable: false });
        const basedOn = sent?.find((p) => p.store === w.store)?.entries;
        return { store, set: store.changeSetFromWire(w.writes, job.key, basedOn) };
      });
      for (const { store, set } of changes) {
        // A record re-processed after a crash between two stores' commits: the store that has it already keeps its effect.
        if (id !== undefined && this.#recovered.has(meta.ticket.seq) && store.hasApplied(id)) continue;
        staged.push({ store, change: store.stage(set, id === undefined ? [] : [id]) });
      }
    } catch (error) {
      return serializeError(error);
    }
    if (staged.length > 0) attachStaged(meta.ticket, staged);
    if (id !== undefined) {
      const ids = this.#idsBySeq.get(meta.ticket.seq) ?? [];
      ids.push(id);
      this.#idsBySeq.set(meta.ticket.seq, ids);
    }
    return undefined;
  }

  /** Wraps the journal so that, once a release is durable, the stores may forget the released records' ids. */
  wrapJournal(journal: JournalLike): JournalLike {
    return {
      append: (items) => journal.append(items),
      unreleased: () => journal.unreleased(),
      release: async (seqs) => {
        await journal.release(seqs);
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

/** `${journalSeq}:${indexInEntry}`: stable across restarts (docs/state.md). */
export function stateId(seq: number, index: number): string {
  return `${seq}:${index}`;
}

function idOf(meta: StateMeta): string | undefined {
  // Without a journal seq (no journal, or its append failed) nothing is recovered, so nothing needs an id.
  return meta.ticket.seq < 0 || meta.index === undefined ? undefined : stateId(meta.ticket.seq, meta.index);
}

/** Stores of every processor downstream of `source`. */
function reachableStores(topology: Topology, source: string): string[] {
  const reached = new Set<string>();
  let changed = true;
  while (changed) {
    changed = false;
    for (const p of Object.values(topology.processors)) {
      if (reached.has(p.name)) continue;
      if (p.inputs.some((r) => (r.kind === 'source' ? r.name === source : reached.has(r.name)))) { reached.add(p.name); changed = true; }
    }
  }
  return [...new Set([...reached].flatMap((name) => topology.processors[name]!.stores))];
}

/** The processor runner's hooks for one processor; undefined when it declares no stores. */
export function stateHooks(state: RuntimeState | undefined, processor: string, stores: readonly string[]): StateHooks | undefined {
  if (state === undefined || stores.length === 0) return undefined;
  return { preload: (job) => state.preload(processor, job), accept: (job, writes) => state.accept(job, writes) };
}
