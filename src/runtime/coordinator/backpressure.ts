import type { Logger } from 'pino';
import type { StageGroup } from '../../topology/stage-groups.js';
import type { Topology } from '../../topology/types.js';
import type { StageRunner } from './stage-runner.js';

/**
 * The most records in a group's first batch (see `Backpressure.probing`).
 * Its rate is known once the batch is back; a batch of the group's full size
 * left every other worker idle for as long as that batch ran (a chain of
 * 3 × 1 ms steps, 256 records: 0.8 s).
 */
export const PROBE_RECORDS = 8;

/**
 * While a group's probe is not back, one more probe goes out per this many
 * ms waited: a slow first record (a cold connection, a call that hangs until
 * its timeout) no longer holds the whole group for as long as it takes.
 */
export const PROBE_PATIENCE_MS = 250;
/** At most this many probes out at once: the first one back ends probing, and an unknown fan-out stays bounded. */
const PROBES_AT_MOST = 4;

export interface BackpressureOptions {
  topology: Topology;
  /** The group and runner a processor runs in. */
  placement(processor: string): { group: StageGroup; runner: StageRunner };
  /** Every group's runner. */
  runners: readonly StageRunner[];
  /** Most source records in flight (the coordinator's bound): the marks are multiples of it. */
  maxInFlight: number;
  /** Sink records accepted and not yet acknowledged by the node (OutputWriters.sinkBacklog). */
  sinkBacklog(): number;
  logger?: Logger;
}

/**
 * Backpressure between stage groups and sinks. The in-flight bound counts
 * source records; a fan-out (a record emitting thousands) would otherwise
 * queue up to maxInFlight × maxOutputs derived records in the coordinator,
 * in the groups after it or waiting for a sink. A group dispatches nothing
 * while
 * - the records queued in (or out in workers of) the groups it feeds, plus
 *   what its own batches out are expected to add (records out × the records
 *   it sent them per record lately), reach 2 × `maxInFlight`; or
 * - the sink records not yet acknowledged by the node, plus what its
 *   batches out are expected to add, reach 8 × `maxInFlight`.
 *
 * Until its first batch is back (how much it derives is unknown) it has one
 * batch out at a time, and that batch is a probe of at most PROBE_RECORDS
 * records (`probing`), so the other workers wait for a few records, not a
 * whole batch; one more probe goes out per PROBE_PATIENCE_MS the first is
 * not back (a slow first record does not hold the group). A group with no outputs leaving it is never held.
 * With one output per record neither mark is reached (every record in
 * flight counts once). The groups after a group never wait for it (the
 * topology is acyclic; a group's own re-keyed records do not count) and
 * sinks drain on their own, so a held group always resumes (`wake`). A task
 * adds at most SPILL_AFTER records plus one record's outputs.
 */
export class Backpressure {
  readonly #o: BackpressureOptions;
  /** Per group, the runners of the groups it feeds. */
  readonly #feeds = new Map<StageGroup, StageRunner[]>();
  /** Groups with outputs leaving them (to other groups or sinks): the only ones that can be held. */
  readonly #emitting = new Set<StageGroup>();
  /** Per group, records it sent to other groups and to sinks per record it was given (moving averages over its batches; unknown before the first). */
  readonly #outRate = new Map<StageGroup, { exits: number; sinks: number }>();
  /** Groups whose waiting was logged. */
  readonly #noted = new Set<string>();
  /** Per group still probing: since when its first probe is out, and the timer that lets the next one go. */
  readonly #probes = new Map<StageGroup, { since: number; timer?: NodeJS.Timeout }>();

  constructor(options: BackpressureOptions) {
    this.#o = options;
    const { topology, placement } = options;
    for (const p of Object.values(topology.processors)) {
      for (const input of p.inputs) {
        if (input.kind !== 'processor') continue;
        const from = placement(input.name);
        const to = placement(p.name);
        if (from.group === to.group) continue;
        const list = this.#feeds.get(from.group) ?? [];
        if (!list.includes(to.runner)) list.push(to.runner);
        this.#feeds.set(from.group, list);
      }
    }
    for (const sink of Object.values(topology.sinks)) this.#emitting.add(placement(sink.input.processor).group);
    for (const group of this.#feeds.keys()) this.#emitting.add(group);
  }

  /** True while `group` should dispatch nothing (see the class comment). */
  held(group: StageGroup): boolean {
    if (!this.#emitting.has(group)) return false;
    const out = this.#o.placement(group.head).runner.recordsOut;
    const rate = this.#outRate.get(group);
    if (rate === undefined) return out > 0 && this.#probeHeld(group, out);
    const high = this.#o.maxInFlight;
    const sinks = this.#o.sinkBacklog() + out * rate.sinks;
    if (sinks >= 8 * high) return this.#note(group, 'the sinks', sinks);
    const feeds = this.#feeds.get(group);
    if (feeds === undefined) return false;
    let queued = out * rate.exits;
    for (const runner of feeds) queued += runner.pending;
    return queued >= 2 * high && this.#note(group, feeds.map((r) => `"${r.name}"`).join(', '), queued);
  }

  /** True while how much `group` derives per record is not known (its first batch is not back): its batches are cut to PROBE_RECORDS. */
  probing(group: StageGroup): boolean {
    return this.#emitting.has(group) && !this.#outRate.has(group);
  }

  /**
   * While no probe is back: held until PROBE_PATIENCE_MS more have passed for
   * each probe out (records out ÷ PROBE_RECORDS), then the group pumps again;
   * never more than PROBES_AT_MOST probes out.
   */
  #probeHeld(group: StageGroup, out: number): boolean {
    if (out >= PROBES_AT_MOST * PROBE_RECORDS) return true;
    const now = Date.now();
    let probe = this.#probes.get(group);
    if (probe === undefined) this.#probes.set(group, probe = { since: now });
    const next = probe.since + Math.ceil(out / PROBE_RECORDS) * PROBE_PATIENCE_MS;
    if (now >= next) return false;
    if (probe.timer === undefined) {
      probe.timer = setTimeout(() => { probe.timer = undefined; this.#o.placement(group.head).runner.wake(); }, next - now);
      probe.timer.unref();
    }
    return true;
  }

  /** A batch of `records` of `group` came back: `exits` of its outputs left for other groups, `sunk` for sinks. */
  observe(group: StageGroup, records: number, exits: number, sunk: number): void {
    const probe = this.#probes.get(group);
    if (probe !== undefined) { clearTimeout(probe.timer); this.#probes.delete(group); }
    const rate = this.#outRate.get(group);
    if (rate === undefined) { this.#outRate.set(group, { exits: exits / records, sinks: sunk / records }); return; }
    rate.exits = 0.5 * rate.exits + 0.5 * (exits / records);
    rate.sinks = 0.5 * rate.sinks + 0.5 * (sunk / records);
  }

  /** Something drained (a batch came back, a sink write settled): held groups look again. */
  wake(): void {
    for (const runner of this.#o.runners) runner.wake();
  }

  /** The gauges: sink records not yet acknowledged, and per stage group (by name) whether it holds back its batches now. */
  snapshot(): { sinkBacklog: number; waiting: Record<string, boolean> } {
    const waiting: Record<string, boolean> = {};
    for (const runner of this.#o.runners) waiting[runner.name] = runner.heldBack;
    return { sinkBacklog: this.#o.sinkBacklog(), waiting };
  }

  /** Once per group and run, says why it waits (a fan-out outrunning what it feeds). Returns true. */
  #note(group: StageGroup, what: string, records: number): true {
    if (this.#noted.has(group.name)) return true;
    this.#noted.add(group.name);
    this.#o.logger?.info({ group: group.name, waiting: Math.round(records), maxInFlight: this.#o.maxInFlight },
      `stage group "${group.name}" waits for ${what}: about ${Math.round(records).toLocaleString('en-US')} records it derived are not through yet ` +
      '(backpressure: it sends more once they drain; logged once)');
    return true;
  }
}
