import type { Ordering, ProcessorSpec, Topology } from './types.js';

/**
 * A stage group: processors that run inside one worker task. The coordinator
 * hands a record to the group once and gets back what the whole chain
 * produced (sink entries, records for other groups, state writes, failures),
 * so a record crosses the thread boundary once per group instead of once per
 * processor — Kafka Streams' sub-topology.
 */
export interface StageGroup {
  /** The group's name: its head processor's. */
  name: string;
  /** The processor records enter by (reads a source, several inputs, or starts a group for a reason below). */
  head: string;
  /** Every member, head first, each after the member it reads from. */
  members: string[];
  /** `key` when any member runs in key ordering: the group then holds a record's key from entry until the whole chain is done. */
  ordering: Ordering;
  /** Why the head starts a group (shown by `graph` and `validate`). */
  reason: GroupStart;
}

/** Why a processor starts a stage group rather than joining its input's. */
export type GroupStart =
  | 'reads a source'
  | 'reads several inputs'
  | 'reads nothing'
  | 'fuse: false'
  | 'shares a state store'
  | 'its input runs alone'
  | 're-keyed input (repartition)'
  | 'group depth limit';

/**
 * Most processors one after the other in a stage group: a deeper one starts
 * a new group. Inside a group a record carries the path it took (member and
 * output position per hop, for the ids of its derived records and state), so
 * one record's chain costs the square of its depth in the worker: a chain of
 * 7,000 processors in one group ran its worker out of heap on the first
 * record and never finished. Cut every 128 steps it is linear (a record
 * crosses threads once per 128 processors, which costs far less than the
 * processors do), and a fan-out (breadth) is not limited by it.
 */
export const MAX_GROUP_DEPTH = 128;

/**
 * The rule (docs/pipeline.md, "Stage groups"): a processor joins the group
 * of the processor it reads from unless
 *
 * - it reads a source, or more than one input;
 * - it or its input runs alone: `fuse: false`, or a state store another
 *   processor uses too (such a step's writes can be refused as stale and
 *   the step retried, so nothing after it may have run on them);
 * - it runs in key ordering (every stateful step does) and a member between
 *   the group's head and it declares `rekey: true` — the key it would see is
 *   not the key the group holds, so it needs the coordinator's key ordering
 *   again: the equivalent of a repartition;
 * - it would be more than {@link MAX_GROUP_DEPTH} steps below its group's
 *   head (a long chain is cut into groups of that depth).
 *
 * A key change that is not declared stays safe: the worker hands a record
 * whose key is not the held one back to the coordinator before any keyed
 * member (src/runtime/worker/stage-chain.ts).
 */
export function planStageGroups(topology: Topology): StageGroup[] {
  const processors = Object.values(topology.processors);
  const storeUsers = new Map<string, number>();
  for (const p of processors) for (const s of p.stores) storeUsers.set(s, (storeUsers.get(s) ?? 0) + 1);
  const sharesStore = (p: ProcessorSpec) => p.stores.some((s) => (storeUsers.get(s) ?? 0) > 1);
  const keyed = (p: ProcessorSpec) => p.ordering === 'key' || p.stores.length > 0;

  // Each processor's group head, and whether a re-key lies between the head and it (inclusive).
  const headOf = new Map<string, string>();
  /** Steps below its group's head (the head: 0). */
  const level = new Map<string, number>();
  const rekeyedBy = new Map<string, boolean>();
  const reasons = new Map<string, GroupStart>();
  const start = (p: ProcessorSpec): GroupStart | undefined => {
    if (p.inputs.length === 0) return 'reads nothing';
    if (p.inputs.length !== 1) return 'reads several inputs';
    const input = p.inputs[0]!;
    if (input.kind === 'source') return 'reads a source';
    if (!p.fuse) return 'fuse: false';
    if (sharesStore(p)) return 'shares a state store';
    const upstream = topology.processors[input.name]!;
    if (!upstream.fuse || sharesStore(upstream)) return 'its input runs alone';
    if (keyed(p) && rekeyedBy.get(upstream.name)) return 're-keyed input (repartition)';
    if ((level.get(upstream.name) ?? 0) + 1 >= MAX_GROUP_DEPTH) return 'group depth limit';
    return undefined;
  };
  // Iterative (a chain of thousands of processors overflowed the call stack):
  // walk up single processor inputs to a processor already planned, then plan
  // the walked ones from the top down. A processor met twice on the walk (a
  // cycle) is first taken as a head, then planned like the others.
  const upstreamOf = (p: ProcessorSpec): ProcessorSpec | undefined => {
    const input = p.inputs.length === 1 ? p.inputs[0]! : undefined;
    return input?.kind === 'processor' ? topology.processors[input.name]! : undefined;
  };
  const visit = (from: ProcessorSpec): void => {
    const path: ProcessorSpec[] = [];
    const seen = new Set<string>();
    for (let p: ProcessorSpec | undefined = from; p !== undefined && !headOf.has(p.name); p = upstreamOf(p)) {
      if (seen.has(p.name)) { headOf.set(p.name, p.name); reasons.set(p.name, 'reads several inputs'); break; }
      seen.add(p.name);
      path.push(p);
    }
    for (const p of path.reverse()) {
      const why = start(p);
      if (why !== undefined) {
        headOf.set(p.name, p.name);
        reasons.set(p.name, why);
        rekeyedBy.set(p.name, p.rekey);
        level.set(p.name, 0);
        continue;
      }
      const upstream = upstreamOf(p)!.name;
      headOf.set(p.name, headOf.get(upstream)!);
      level.set(p.name, (level.get(upstream) ?? 0) + 1);
      rekeyedBy.set(p.name, rekeyedBy.get(upstream)! || p.rekey);
    }
  };
  for (const p of processors) visit(p);

  const groups = new Map<string, StageGroup>();
  for (const p of processors) {
    const head = headOf.get(p.name)!;
    if (head === p.name) groups.set(head, { name: head, head, members: [], ordering: 'unordered', reason: reasons.get(head)! });
  }
  // Members in an order where each comes after the member it reads (depth
  // from the head), each depth computed once: walking up from every member
  // was quadratic on a long chain.
  const depths = new Map<string, number>();
  const depth = (name: string): number => {
    const path: string[] = [];
    let at = name;
    while (!depths.has(at) && headOf.get(at) !== at) {
      path.push(at);
      at = upstreamOf(topology.processors[at]!)!.name;
    }
    let d = depths.get(at) ?? 0;
    depths.set(at, d);
    for (const m of path.reverse()) depths.set(m, ++d);
    return depths.get(name)!;
  };
  for (const p of processors) depth(p.name);
  for (const p of [...processors].sort((a, b) => depths.get(a.name)! - depths.get(b.name)!)) {
    const group = groups.get(headOf.get(p.name)!)!;
    group.members.push(p.name);
    if (keyed(p)) group.ordering = 'key';
  }
  return [...groups.values()];
}

/** processor name → its group. */
export function groupIndex(groups: readonly StageGroup[]): Map<string, StageGroup> {
  const index = new Map<string, StageGroup>();
  for (const g of groups) for (const m of g.members) index.set(m, g);
  return index;
}

/** One line per group: `enrich → route, revenue (key ordering; starts: re-keyed input (repartition))`. */
export function describeStageGroups(topology: Topology): string[] {
  return planStageGroups(topology).map((g) => {
    const rest = g.members.slice(1);
    return `${g.head}${rest.length > 0 ? ` → ${rest.join(', ')}` : ''} (${g.ordering === 'key' ? 'key ordering' : 'unordered'}; starts: ${g.reason})`;
  });
}
