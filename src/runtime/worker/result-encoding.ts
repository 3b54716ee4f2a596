/**
 * How a stage-group task's outputs become bytes in the worker: the values of
 * outputs leaving the group (packed as their processor's step ends, so one
 * that cannot cross fails that step alone, see stage-chain.ts), and the whole
 * result.
 */

import { WalrusError, serializeError } from '../../errors/index.js';
import { encodeResult, encodeWire, packValue, type GroupBatchResult, type GroupSpecWire, type TaskRecord, type UnitFailure } from '../wire/messages.js';

/**
 * The result as bytes. Outputs leaving the group are bytes already; should
 * something else still not cross the thread boundary (the value of a step a
 * task spilled), only the units responsible fail (non-retriable).
 */
export function encodeGroupResult(group: GroupSpecWire, result: GroupBatchResult): ArrayBuffer {
  try {
    return encodeResult(result);
  } catch {
    const unsendable = (member: number, what: string, error: unknown) => serializeError(new WalrusError('SERIALIZATION_ERROR',
      `processor "${group.members[member]?.name}" ${what} that cannot be passed between threads: ${(error as Error)?.message ?? String(error)}`,
      { retriable: false }));
    // A member that failed on a record derived in the group is retried on that record, which must cross: if it
    // cannot (a function a fused member passed on), the failure becomes final and the record stays here.
    const failures = result.failures.map((f) => {
      if (f.record === undefined) return f;
      try { encodeWire(f.record.value); return f; } catch (error) {
        return { ...f, record: { ...f.record, value: null }, error: unsendable(f.member, `failed (${f.error.code}: ${f.error.message}) on a record`, error) };
      }
    });
    const failed = (index: number, member: number, hops: number[], error: unknown) => failures.push({
      index, member, hops, attempt: 1, error: unsendable(member, 'produced an output', error),
    });
    const sendable = <T>(items: T[], onError: (item: T, error: unknown) => void): T[] => items.filter((item) => {
      try { encodeWire(item); return true; } catch (error) { onError(item, error); return false; }
    });
    const exits = sendable(result.exits, (x, error) => failed(x.index, x.hops[x.hops.length - 2] ?? 0, x.hops.slice(0, -2), error));
    const state = sendable(result.state, (u, error) => failed(u.index, u.member, u.hops, error));
    return encodeResult({ ...result, exits, state, failures });
  }
}

/** An output's value as the bytes it crosses the coordinator as; SERIALIZATION_ERROR when it cannot cross threads (a symbol, a function, a cycle). */
export function packOutput(processor: string, position: number, output: string, value: unknown): Uint8Array {
  try {
    return packValue(value);
  } catch (error) {
    throw new WalrusError('SERIALIZATION_ERROR',
      `processor "${processor}" produced an output (#${position + 1}, "${output}") that cannot be passed to another thread: ${(error as Error)?.message ?? String(error)}`,
      { retriable: false });
  }
}

/** The result of a task whose every record failed at its entry member with `error`: nothing of the task is kept. */
export function failedBatch(records: readonly TaskRecord[], error: UnitFailure['error']): GroupBatchResult {
  return {
    members: [], entryDurations: new Float64Array(records.length), exits: [], state: [], packed: [],
    failures: records.map((r, index) => ({ index, member: r.entry, hops: [], attempt: r.attempt, error })),
  };
}
