import type { GroupBatchResult, GroupSpecWire, ProcessorSpecWire, SinkWire, TaskRecord, WireRecord } from '../../src/runtime/wire/messages.js';
import type { SerializedError } from '../../src/errors/index.js';
import { unpackValue } from '../../src/runtime/wire/batch-codec.js';

/** A stage group of one processor whose outputs all go back to the coordinator (or to `sinks`, by output). */
export function oneProcessorGroup(spec: ProcessorSpecWire, sinks: Record<string, SinkWire[]> = {}): GroupSpecWire {
  const routes = Object.fromEntries(spec.outputs.map((o) => [o, { members: [], exits: sinks[o] ? [] : ['(next)'], sinks: sinks[o] ?? [] }]));
  return { name: spec.name, members: [{ ...spec, keyed: false, routes }], timeoutMs: spec.timeoutMs };
}

/** Records as tasks entering at the group's head. */
export function tasks(records: WireRecord[]): TaskRecord[] {
  return records.map((r) => ({ ...r, entry: 0, single: false }));
}

export type Outcome =
  | { ok: true; outputs: Array<{ output: string; value: unknown; key?: string; headers?: Record<string, string> }>; sunk: number }
  | { ok: false; error: SerializedError };

/** One outcome per input record, as the old per-processor results read. */
export function outcomes(result: GroupBatchResult, n: number): Outcome[] {
  const out: Outcome[] = Array.from({ length: n }, () => ({ ok: true as const, outputs: [], sunk: 0 }));
  for (const x of result.exits) {
    const o = out[x.index]!;
    if (o.ok) o.outputs.push({ output: x.source.slice(x.source.lastIndexOf('.') + 1), value: x.encoding === 'wire' ? unpackValue(x.value as Uint8Array) : x.value, key: x.key, ...(x.headers ? { headers: x.headers } : {}) });
  }
  for (const u of result.packed) for (const i of u.records) { const o = out[i]!; if (o.ok) o.sunk += 1; }
  for (const f of result.failures) out[f.index] = { ok: false, error: f.error };
  return out;
}
