import { WalrusError, serializeError } from '../errors/index.js';
import type { ProcessorContext, ProcessResult } from '../processor/types.js';
import type { ProcessorSpecWire, WireOutput, WireRecord, WireResult } from './messages.js';
import type { LoadedProcessor } from './loaded-processors.js';

/**
 * Runs one record through a processor: builds its context, enforces the
 * timeout through the AbortSignal, and turns the outcome into a WireResult.
 * Outputs emitted by an attempt that throws are discarded.
 *
 * This is the per-record hot path, so what is expensive is made lazily: the
 * AbortController (an EventTarget the GC feels at 100k records/s) only when
 * the processor reads `ctx.signal`, the child logger only when it logs, and
 * the timeout race only when `process` returns a promise (a synchronous
 * processor cannot be interrupted anyway).
 */
export function runRecord(
  loaded: LoadedProcessor,
  spec: ProcessorSpecWire,
  wire: WireRecord,
  inFlight: Set<AbortController>,
): WireResult | Promise<WireResult> {
  const started = performance.now();
  const outputs: WireOutput[] = [];
  let controller: AbortController | undefined;
  let logger: ProcessorContext['logger'] | undefined;
  const ctx: ProcessorContext = {
    get logger() {
      logger ??= loaded.logger.child({ recordId: wire.id });
      return logger;
    },
    get signal() {
      if (!controller) {
        controller = new AbortController();
        inFlight.add(controller);
      }
      return controller.signal;
    },
    config: loaded.lifecycle.config,
    processor: spec.name,
    attempt: wire.attempt,
    metrics: loaded.lifecycle.metrics,
    emit(output, value, options = {}) {
      if (!loaded.outputs.has(output)) {
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
  const finish = (returned: ProcessResult<unknown>): WireResult => {
    if (controller?.signal.aborted) throw abortReason(controller.signal);
    if (returned !== undefined) {
      if (!loaded.outputs.has('default')) {
        throw new WalrusError('INVALID_ARGUMENT',
          `processor "${spec.name}" returned a value but has no "default" output; use ctx.emit(<output>, value)`,
          { retriable: false });
      }
      if (Array.isArray(returned)) for (const value of returned) outputs.push({ output: 'default', value, key: wire.key, headers: wire.headers });
      else outputs.push({ output: 'default', value: returned, key: wire.key, headers: wire.headers });
    }
    return { ok: true, outputs, durationMs: performance.now() - started };
  };
  const fail = (thrown: unknown): WireResult => {
    // A processor that rethrows whatever its signal carried still reports why.
    const error = controller?.signal.aborted && !(thrown instanceof Error) ? abortReason(controller.signal) : thrown;
    return { ok: false, error: serializeError(error), durationMs: performance.now() - started };
  };
  const done = () => { if (controller) inFlight.delete(controller); };

  let returned: unknown;
  try {
    returned = loaded.definition.process(wire, ctx);
  } catch (error) {
    done();
    return fail(error);
  }
  if (!isThenable(returned)) {
    try {
      return finish(returned as ProcessResult<unknown>);
    } catch (error) {
      return fail(error);
    } finally {
      done();
    }
  }
  return withTimeout(returned, spec, wire, () => ctx.signal, () => controller)
    .then(finish)
    .catch(fail)
    .finally(done);
}

function withTimeout(work: PromiseLike<unknown>, spec: ProcessorSpecWire, wire: WireRecord,
  signal: () => AbortSignal, controller: () => AbortController | undefined): Promise<ProcessResult<unknown>> {
  if (spec.timeoutMs <= 0) return Promise.resolve(work) as Promise<ProcessResult<unknown>>;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new WalrusError('PROCESSOR_TIMEOUT', `processor "${spec.name}" did not finish record ${wire.id} within ${spec.timeoutMs} ms`);
      signal();
      controller()?.abort(error);
      reject(error);
    }, spec.timeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer)) as Promise<ProcessResult<unknown>>;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason instanceof Error
    ? signal.reason
    : new WalrusError('SHUTTING_DOWN', `record processing aborted: ${String(signal.reason)}`);
}
