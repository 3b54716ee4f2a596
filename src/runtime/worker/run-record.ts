import { resolveSerializer, type Serializer } from '../../codec/index.js';
import { WalrusError, serializeError } from '../../errors/index.js';
import type { EmitOptions, ProcessorContext, ProcessResult } from '../../processor/types.js';
import type { ProcessorSpecWire, WireOutput, WireRecord, WireResult } from '../wire/messages.js';
import { unpackValue } from '../wire/batch-codec.js';
import type { LoadedProcessor } from './loaded-processors.js';
import { recordLogger } from '../../observability/logs/log-fields.js';
import { workerState } from './state-worker.js';
import { ChangeSet, type StateStoreView } from '../../state/model/change-set.js';
import { readerOf, type WorkerStateContext } from '../../state/worker/worker-state.js';
import { DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_MAX_OUTPUTS, emittedBytes, headerBytes, outputBytesError, outputLimitError } from '../../processor/output-limit.js';
import { checkOutputValue, emitHeaders, emitKey } from './output-checks.js';
import { processingAborted } from './shutdown.js';
import { processorFailure } from './failure-error.js';

/**
 * Runs one record through a processor and turns the outcome into a
 * WireResult. Outputs emitted by an attempt that throws are discarded.
 *
 * This is the per-record hot path of every worker, so it is a class (no
 * closures per record) and what is expensive is made lazily: the
 * AbortController (an EventTarget the GC feels at 100k records/s) only when
 * the processor reads `ctx.signal`, the child logger only when it logs, the
 * timeout race only when `process` returns a promise (a synchronous
 * processor cannot be interrupted anyway). An output keeps no `key`/`headers`
 * of its own when they equal the input's, which keeps result buffers small.
 */
export function runRecord(loaded: LoadedProcessor, spec: ProcessorSpecWire, wire: WireRecord,
  inFlight: Set<AbortController>): WireResult | Promise<WireResult> {
  return new RecordRun(loaded, spec, wire, inFlight).run();
}

class RecordRun implements ProcessorContext {
  readonly config: Readonly<Record<string, unknown>>;
  readonly processor: string;
  readonly attempt: number;
  readonly metrics: ProcessorContext['metrics'];
  readonly #loaded: LoadedProcessor;
  readonly #spec: ProcessorSpecWire;
  readonly #wire: WireRecord;
  readonly #inFlight: Set<AbortController>;
  readonly #started = performance.now();
  readonly #outputs: WireOutput[] = [];
  /** Set once the attempt's result is made: later emits and state use belong to no result (see #late). */
  #settled = false;
  #controller: AbortController | undefined;
  #logger: ProcessorContext['logger'] | undefined;
  #timedOut: WalrusError | undefined;
  /** Set by the emit past `maxOutputs` (or `maxOutputBytes`): the attempt fails with it even if the processor caught it. */
  #overLimit: WalrusError | undefined;
  /** Bytes of the strings and binary values emitted so far (emittedBytes), and of outputs' own keys and headers, against `maxOutputBytes`. */
  #bytes = 0;
  #state: WorkerStateContext | undefined;
  /** The store views handed out, sealed when the result is made (#seal). */
  #views: ChangeSet[] | undefined;
  /**
   * The input's id, key, headers, timestamp and source as process() got
   * them: a processor that reassigns one on its record is found (and the
   * field put back) when it returns. Kept here rather than handing process()
   * a copy of the record: a copy per step was a measurable share of a fused
   * chain's cost (garbage).
   */
  #givenId = '';
  #givenKey: string | undefined;
  #givenHeaders: Record<string, string> | undefined;
  #givenTimestamp = 0;
  #givenSource = '';
  /**
   * The value process() got (NOT_GIVEN before it ran), put back on the record when the attempt fails: a record fused
   * after another goes back to the coordinator for its retry as this object, and a value the failed attempt assigned
   * would otherwise be what the retry got.
   */
  #givenValue: unknown = NOT_GIVEN;

  constructor(loaded: LoadedProcessor, spec: ProcessorSpecWire, wire: WireRecord, inFlight: Set<AbortController>) {
    this.#loaded = loaded;
    this.#spec = spec;
    this.#wire = wire;
    this.#inFlight = inFlight;
    this.config = loaded.lifecycle.config;
    this.processor = spec.name;
    this.attempt = wire.attempt;
    this.metrics = loaded.lifecycle.metrics;
  }

  get logger(): ProcessorContext['logger'] {
    this.#logger ??= recordLogger(this.#loaded.logger, this.#wire);
    return this.#logger;
  }

  get signal(): AbortSignal {
    // Read first after the record finished (a callback left behind): an aborted signal of its own. A controller made
    // now would join the in-flight set with nothing left to take it out, one per such record, for the thread's life.
    if (this.#controller === undefined && this.#settled) return AbortSignal.abort(this.#late('ctx.signal'));
    if (!this.#controller) {
      this.#controller = new AbortController();
      this.#inFlight.add(this.#controller);
    }
    return this.#controller.signal;
  }

  state(name: string): StateStoreView {
    // Not thrown when late: from a timer or event callback that would end the thread, and with it the other records on it.
    if (this.#settled) return this.#lateStore(name);
    this.#state ??= workerState(this.#spec, this.#wire);
    const view = this.#state.store(name);
    if (this.#views === undefined) this.#views = [view];
    else if (!this.#views.includes(view)) this.#views.push(view);
    return view;
  }

  emit(output: string, value: unknown, options?: EmitOptions): void {
    if (this.#settled) {
      // Typically a callback (a timer, an event) the processor did not await: throwing there would kill the
      // thread and charge whatever record runs then, so the output is dropped and the processor's log says why.
      const error = this.#late('ctx.emit()');
      if (!this.#loaded.lateWarned) {
        this.#loaded.lateWarned = true;
        this.#loaded.logger.warn({ err: error.message, recordId: this.#wire.id }, 'output emitted after process() finished was dropped');
      }
      return;
    }
    if (!this.#loaded.outputs.has(output)) {
      // Not `"${output}"` for anything but a string: a Symbol (or a toString that throws) made that a TypeError,
      // retried as if the processor had failed, instead of this error.
      const named = typeof output === 'string' ? `unknown output "${output}"` : `an output name of type ${output === null ? 'null' : typeof output} (output names are strings)`;
      throw new WalrusError('INVALID_ARGUMENT',
        `processor "${this.#spec.name}" emitted to ${named}; declared outputs: ${this.#spec.outputs.join(', ')}`,
        { retriable: false });
    }
    const key = emitKey(this.#spec.name, output, options);
    const headers = emitHeaders(this.#spec.name, output, options, this.#wire.headers);
    checkOutputValue(this.#spec.name, value, output);
    if (this.#overLimit !== undefined || this.#outputs.length >= (this.#spec.maxOutputs ?? DEFAULT_MAX_OUTPUTS)) throw this.#tooMany();
    const own = key !== undefined && key !== this.#wire.key;
    // A key or headers of its own go with the output too (one shared 1 MB key on 1,000 outputs was 1 GB to cross).
    this.#count(value, (own ? key.length : 0) + (headers === undefined ? 0 : headerBytes(headers)));
    const out: WireOutput = { output, value };
    if (own) out.key = key;
    if (headers !== undefined) out.headers = headers;
    this.#outputs.push(out);
  }

  run(): WireResult | Promise<WireResult> {
    const aborted = processingAborted();
    if (aborted !== undefined) {
      this.#settled = true;
      return { ok: false, error: serializeError(aborted), durationMs: 0 };
    }
    let returned: unknown;
    try {
      if (this.#wire.encoding !== undefined) this.#wire.value = decodeValue(this.#wire, this.#spec);
      const wire = this.#wire;
      this.#givenId = wire.id;
      this.#givenKey = wire.key;
      this.#givenHeaders = wire.headers;
      this.#givenTimestamp = wire.timestamp;
      this.#givenSource = wire.source;
      this.#givenValue = wire.value;
      returned = this.#loaded.definition.process(wire, this);
    } catch (error) {
      this.#done();
      return this.#fail(error);
    }
    let thenable: boolean;
    try {
      thenable = isThenable(returned); // reads `then`: a getter or proxy trap may throw
    } catch (error) {
      this.#done();
      return this.#fail(error);
    }
    if (!thenable) {
      try {
        return this.#settle(returned as ProcessResult<unknown>);
      } finally {
        this.#done();
      }
    }
    let pending: Promise<ProcessResult<unknown>>;
    try {
      pending = this.#withTimeout(returned as PromiseLike<unknown>); // reads `then` again
    } catch (error) {
      this.#done();
      return this.#fail(error);
    }
    return pending
      .then((value) => this.#settle(value), (error: unknown) => this.#fail(error))
      .finally(() => this.#done());
  }

  /** The result of an attempt whose process() returned: what #finish makes, or the failure it throws (never a rejection: that would read as a crash of the whole task). */
  #settle(returned: ProcessResult<unknown>): WireResult {
    try {
      return this.#finish(returned);
    } catch (error) {
      return this.#fail(error);
    }
  }

  #finish(returned: ProcessResult<unknown>): WireResult {
    this.#settled = true;
    if (this.#controller?.signal.aborted) throw abortReason(this.#controller.signal);
    if (this.#overLimit !== undefined) throw this.#overLimit;
    this.#checkRecord();
    if (returned !== undefined) {
      if (!this.#loaded.outputs.has('default')) {
        throw new WalrusError('INVALID_ARGUMENT',
          `processor "${this.#spec.name}" returned a value but has no "default" output; use ctx.emit(<output>, value)`,
          { retriable: false });
      }
      const max = this.#spec.maxOutputs ?? DEFAULT_MAX_OUTPUTS;
      if (this.#outputs.length + (Array.isArray(returned) ? returned.length : 1) > max) throw this.#tooMany();
      if (Array.isArray(returned)) {
        for (let i = 0; i < returned.length; i++) checkOutputValue(this.#spec.name, returned[i], undefined, i);
        for (let i = 0; i < returned.length; i++) this.#count(returned[i]);
        for (const value of returned) this.#outputs.push({ output: 'default', value });
      } else {
        checkOutputValue(this.#spec.name, returned, undefined);
        this.#count(returned);
        this.#outputs.push({ output: 'default', value: returned });
      }
    }
    const result: WireResult = { ok: true, outputs: this.#outputs, durationMs: performance.now() - this.#started };
    const state = this.#state?.collect();
    this.#seal();
    if (state !== undefined && state.length > 0) {
      this.#countState(state);
      result.state = state;
    }
    return result;
  }

  #fail(thrown: unknown): WireResult {
    this.#settled = true;
    this.#seal();
    if (this.#givenValue !== NOT_GIVEN) this.#wire.value = this.#givenValue;
    // A processor that rethrows whatever its signal carried still reports why.
    const error = this.#timedOut ?? this.#overLimit
      ?? (this.#controller?.signal.aborted && !(thrown instanceof Error) ? abortReason(this.#controller.signal) : thrown);
    return { ok: false, error: processorFailure(error), durationMs: performance.now() - this.#started };
  }

  /** The OUTPUT_LIMIT error of this attempt (kept: a processor that catches it still fails, and its outputs are dropped). */
  #tooMany(): WalrusError {
    this.#overLimit ??= outputLimitError(this.#spec.name, this.#wire.id, this.#spec.maxOutputs ?? DEFAULT_MAX_OUTPUTS);
    this.#outputs.length = 0;
    return this.#overLimit;
  }

  /** Counts an output's emittedBytes against `maxOutputBytes`; past it, the OUTPUT_LIMIT error of this attempt (kept, as #tooMany). */
  #count(value: unknown, extra = 0): void {
    this.#bytes += emittedBytes(value) + extra;
    const max = this.#spec.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    if (this.#bytes <= max) return;
    this.#overLimit ??= outputBytesError(this.#spec.name, this.#wire.id, max, 'strings, binary values, keys and headers as emitted');
    this.#outputs.length = 0;
    throw this.#overLimit;
  }

  /**
   * A record's state writes count against `maxOutputBytes` with its outputs (keys and encoded values): they cross to
   * the coordinator, which holds them until they commit, and nothing else bounded them. One record putting 300,000
   * values of 1 KB (300 MB) took a run to 2.2 GB of RSS; the store's 32 KiB per value bounds each, not their number.
   */
  #countState(state: ReadonlyArray<{ store: string; writes: ReadonlyArray<readonly [string, Uint8Array | null]> }>): void {
    for (const { writes } of state) for (const [key, bytes] of writes) this.#bytes += key.length + (bytes === null ? 0 : bytes.length);
    const max = this.#spec.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    if (this.#bytes <= max) return;
    this.#overLimit ??= outputBytesError(this.#spec.name, this.#wire.id, max, 'strings, binary values, keys and headers as emitted, and its state writes: keys and encoded values');
    this.#outputs.length = 0;
    throw this.#overLimit;
  }

  /**
   * Output ids derive from the input's id, outputs take its key and headers, state is read by its key: a processor
   * that reassigned one of them on its record (they are read-only) expected something that does not happen. The
   * field is put back (a retry sees the record as it came) and the attempt fails.
   */
  #checkRecord(): void {
    const wire = this.#wire;
    const changed = wire.id !== this.#givenId ? 'id' : wire.key !== this.#givenKey ? 'key' : wire.headers !== this.#givenHeaders ? 'headers'
      : wire.timestamp !== this.#givenTimestamp ? 'timestamp' : wire.source !== this.#givenSource ? 'source' : undefined;
    if (changed === undefined) return;
    wire.id = this.#givenId;
    wire.key = this.#givenKey;
    wire.headers = this.#givenHeaders!;
    wire.timestamp = this.#givenTimestamp;
    wire.source = this.#givenSource;
    throw new WalrusError('INVALID_ARGUMENT',
      `processor "${this.#spec.name}" assigned record.${changed} of its input record ${wire.id}; a record's fields are read-only ` +
      '(output ids derive from its id, outputs take its key and headers): pass { key, headers } to ctx.emit instead', { retriable: false });
  }

  /**
   * A store view kept past process() (by a callback left behind) would take writes into a change set already sent, or
   * dropped, without a word: from now on its put() and delete() drop the write and the processor's log says why (once
   * per worker thread), as a late ctx.emit() does.
   */
  #seal(): void {
    if (this.#views === undefined) return;
    const late = () => this.#warnLateState('ctx.state(...).put() or .delete()');
    for (const view of this.#views) view.put = view.delete = late;
    this.#views = undefined;
  }

  /** ctx.state(name) after process() finished: a view of the store as the record began (reads work), whose writes are dropped, saying so. */
  #lateStore(name: string): StateStoreView {
    this.#warnLateState('ctx.state()');
    const preload = this.#wire.state?.find((p) => p.store === name);
    const view = new ChangeSet(name, readerOf(preload), this.#wire.key);
    view.put = view.delete = () => this.#warnLateState('ctx.state(...).put() or .delete()');
    return view;
  }

  #warnLateState(what: string): void {
    if (this.#loaded.lateStateWarned) return;
    this.#loaded.lateStateWarned = true;
    this.#loaded.logger.warn({ err: this.#late(what).message, recordId: this.#wire.id }, 'state written after process() finished was dropped');
  }

  /** The error for `what` used after this record's process() finished (its result is already made). */
  #late(what: string): WalrusError {
    return new WalrusError('INVALID_ARGUMENT',
      `processor "${this.#spec.name}" used ${what} after process() for record ${this.#wire.id} had finished; it belongs to no result and is dropped. ` +
      'Finish asynchronous work inside process(): return (or await) its promise instead of leaving a callback behind.', { retriable: false });
  }

  #done(): void {
    if (this.#controller) this.#inFlight.delete(this.#controller);
  }

  #withTimeout(work: PromiseLike<unknown>): Promise<ProcessResult<unknown>> {
    const { timeoutMs, name } = this.#spec;
    if (timeoutMs <= 0) return Promise.resolve(work) as Promise<ProcessResult<unknown>>;
    // On timeout the signal fires and the record waits for the processor to
    // give up: not settling here keeps a processor that ignores its signal
    // from running on unseen, and the pool terminates the worker once
    // timeout + grace has passed (timeout-watchdog.ts).
    const timer = setTimeout(() => {
      this.#timedOut = new WalrusError('PROCESSOR_TIMEOUT', `processor "${name}" did not finish record ${this.#wire.id} within ${timeoutMs} ms`);
      void this.signal;
      this.#controller!.abort(this.#timedOut);
    }, timeoutMs);
    return Promise.resolve(work).finally(() => clearTimeout(timer)) as Promise<ProcessResult<unknown>>;
  }
}

/** #givenValue before process() ran. */
const NOT_GIVEN: unique symbol = Symbol('not given');

/** Source values (and records from another stage group) arrive as bytes; a value that does not parse can never succeed, so it is not retried. */
function decodeValue(wire: WireRecord, spec: ProcessorSpecWire): unknown {
  const bytes = wire.value as Uint8Array;
  const encoding = wire.encoding!;
  // Not `delete`: that would turn the record into a slow dictionary object.
  wire.encoding = undefined;
  try {
    return encoding === 'wire' ? unpackValue(bytes) : (resolveSerializer(encoding) as Serializer<unknown>).deserialize(bytes);
  } catch (cause) {
    throw new WalrusError('DESERIALIZATION_ERROR',
      `record ${wire.id} from ${wire.source} is not valid ${encoding}: ${(cause as Error)?.message ?? String(cause)}`,
      { cause, retriable: false, context: { processor: spec.name } });
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason instanceof Error
    ? signal.reason
    : new WalrusError('SHUTTING_DOWN', `record processing aborted: ${String(signal.reason)}`);
}
