import { WalrusError, serializeError } from '../errors/index.js';
import type { ProcessorContext, ProcessorRecord } from '../processor/types.js';
import type { ProcessorSpecWire, WireOutput, WireRecord, WireResult } from './messages.js';
import type { LoadedProcessor } from './loaded-processors.js';

/**
 * Runs one record through a processor: builds its context, enforces the
 * timeout through the AbortSignal, and turns the outcome into a WireResult.
 * Outputs emitted by an attempt that throws are discarded.
 */
export async function runRecord(
  loaded: LoadedProcessor,
  spec: ProcessorSpecWire,
  wire: WireRecord,
  inFlight: Set<AbortController>,
): Promise<WireResult> {
  const started = performance.now();
  const controller = new AbortController();
  inFlight.add(controller);
  const outputs: WireOutput[] = [];
  const declared = new Set(spec.outputs);
  const record: ProcessorRecord = Object.freeze({ ...wire });
  const ctx: ProcessorContext = {
    logger: loaded.logger.child({ recordId: wire.id }),
    config: loaded.lifecycle.config,
    processor: spec.name,
    attempt: wire.attempt,
    signal: controller.signal,
    metrics: loaded.lifecycle.metrics,
    emit(output, value, options = {}) {
      if (!declared.has(output)) {
        throw new WalrusError('INVALID_ARGUMENT',
          `processor "${spec.name}" emitted to unknown output "${output}"; declared outputs: ${spec.outputs.join(', ')}`,
          { retriable: false });
      }
      outputs.push({
        output, value,
        key: options.key ?? wire.key,
        headers: options.headers ? { ...wire.headers, ...options.headers } : wire.headers,
      });
    },
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = Promise.resolve().then(() => loaded.definition.process(record, ctx));
    const returned = spec.timeoutMs > 0
      ? await Promise.race([work, new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const error = new WalrusError('PROCESSOR_TIMEOUT',
              `processor "${spec.name}" did not finish record ${wire.id} within ${spec.timeoutMs} ms`);
            controller.abort(error);
            reject(error);
          }, spec.timeoutMs);
        })])
      : await work;
    if (controller.signal.aborted) throw abortReason(controller.signal);
    if (returned !== undefined) {
      if (!declared.has('default')) {
        throw new WalrusError('INVALID_ARGUMENT',
          `processor "${spec.name}" returned a value but has no "default" output; use ctx.emit(<output>, value)`,
          { retriable: false });
      }
      const values = Array.isArray(returned) ? returned : [returned];
      for (const value of values) outputs.push({ output: 'default', value, key: wire.key, headers: wire.headers });
    }
    return { ok: true, outputs, durationMs: performance.now() - started };
  } catch (thrown) {
    // A processor that rethrows whatever its signal carried still reports why.
    const error = controller.signal.aborted && !(thrown instanceof Error) ? abortReason(controller.signal) : thrown;
    return { ok: false, error: serializeError(error), durationMs: performance.now() - started };
  } finally {
    if (timer) clearTimeout(timer);
    inFlight.delete(controller);
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason instanceof Error
    ? signal.reason
    : new WalrusError('SHUTTING_DOWN', `record processing aborted: ${String(signal.reason)}`);
}
