import { WalrusError } from '../../errors/index.js';
import { WorkerStateContext } from '../../state/worker/worker-state.js';
import type { ProcessorSpecWire, WireRecord } from '../wire/messages.js';

/**
 * The worker side of `ctx.state(name)`: change sets over the entries the
 * coordinator shipped with the record. A record that came without them
 * cannot use state, and the error says why (no key, or no stores declared).
 */
export function workerState(spec: ProcessorSpecWire, wire: WireRecord): WorkerStateContext {
  if (wire.state !== undefined && wire.key !== undefined) return new WorkerStateContext(wire.key, wire.state);
  const why = wire.key === undefined || wire.key === ''
    ? `record ${wire.id} has no key; state is kept per key — give records a key upstream (ctx.emit(output, value, { key }))`
    : `processor "${spec.name}" declares no state stores; list them in the topology (processors.${spec.name}.stores) and declare them under stores:`;
  throw new WalrusError('STATE_STORE_ERROR', `ctx.state: ${why}`, { retriable: false, context: { processor: spec.name } });
}
