import { zod } from '../../util/zod.js';
import type { output } from 'zod';
import { DEFAULT_REDACT_HEADERS } from '../../codec/headers.js';
import { MAX_BATCH_ENTRIES, MAX_FRAME_BYTES } from '../../protocol/index.js';
import { clusterSchema } from './schema-cluster.js';
import { MAX_WORKERS } from '../runtime-limits.js';
import { dedupeSchema, journalSchema, workerPoolSchema } from './schema-runtime.js';
import { aggregateSchema } from './schema-aggregate.js';
import { storeSchema } from './schema-stores.js';
import { APP_NAME_PATTERN, MAX_APP_NAME } from '../../state/model/names.js';
import { PROCESSOR_MODULE_PATTERN } from '../../processor/loader.js';
import { DEFAULT_MAX_OUTPUTS, MAX_OUTPUTS_LIMIT, MAX_OUTPUT_BYTES_LIMIT } from '../../processor/output-limit.js';
import { NAME_PATTERN, address, count, duration, named, ordered, partitions, recordFormat, serializer, show, size, topic } from './schema-fields.js';

const z = zod();

/**
 * The topology language, defined once. This schema gives the types, the
 * defaults, the JSON Schema editors use (`walrus-stream schema`) and the
 * reference in docs/topology.md (generated from the `.describe()` texts).
 * Cross-references (inputs, cycles, names, modules) are checked in
 * `semantics.ts`, which works on positions this schema cannot see.
 */

const FRAME = { bytes: MAX_FRAME_BYTES, why: `the protocol's frame limit of ${MAX_FRAME_BYTES} bytes (64KiB)` };

const source = z
  .strictObject({
    topic: topic().describe('The Walrus topic to read.'),
    partitions: partitions('the topic read (`run --instances` spreads them over instances)'),
    format: recordFormat.default('envelope').describe('`envelope`: entries written by walrus-stream; `text`: plain text entries from other clients (one string record each).'),
    serializer: serializer.default('json').describe('How record values are decoded.'),
    poll: z
      .strictObject({
        batchSize: count(500, 1, MAX_BATCH_ENTRIES).describe('Most entries fetched per poll.'),
        maxBytes: size('60KiB', FRAME, 1).describe('Most bytes fetched per poll (a reply must fit one frame).'),
        minInterval: duration('1ms').describe('Poll delay while entries keep coming.'),
        maxInterval: duration('100ms').describe('Longest poll delay when the topic is idle (backs off up to this).'),
      })
      .superRefine(ordered('minInterval', 'maxInterval', 'ms'))
      .prefault({})
      .describe('How the topic is polled.'),
    rateLimit: z.number().nonnegative().default(0).describe('Records per second read from the topic; 0 = unlimited.'),
    dedupe: dedupeSchema.prefault({}),
  })
  .describe('A topic records are read from.');

const inputRef = z.string().min(1);
const INPUT_FORMS = 'a name ("source", "processor" or "processor.output")';
const inputError = (issue: { input?: unknown }): string => {
  const bad = Array.isArray(issue.input) ? issue.input.find((i) => typeof i !== 'string' || i === '') : undefined;
  return Array.isArray(issue.input)
    ? `every input must be ${INPUT_FORMS}, got ${show(bad)}`
    : `expected ${INPUT_FORMS} or a list of them, got ${show(issue.input)}`;
};

const processor = z
  .strictObject({
    module: z
      .string()
      .regex(PROCESSOR_MODULE_PATTERN, { error: (i) => `expected a .ts, .mts, .cts, .js, .mjs or .cjs file, got ${JSON.stringify(i.input)}` })
      .optional()
      .describe('Path of the processor module (`.ts`, `.mts`, `.cts`, `.js`, `.mjs` or `.cjs`), relative to the topology file. It must default-export `defineProcessor(...)`. Required unless the processor is an `aggregate` step.'),
    aggregate: aggregateSchema.optional(),
    input: z
      .union([inputRef, z.array(inputRef)], { error: inputError })
      .describe('What the processor reads: a source name, `processor.output`, `processor` (its `default` output), or a list of them.'),
    outputs: z
      .array(z.string().meta({ pattern: NAME_PATTERN.source }))
      .min(1)
      .default(['default'])
      .describe('Named outputs the processor emits to (`ctx.emit(name, value)`); a single `default` output when omitted.'),
    concurrency: count(8).describe('Batches in flight at once for the stage group this processor heads (up to `concurrency × batchSize` records); a worker thread runs up to `workerPool.tasksPerWorker` of them at a time.'),
    ordering: z.enum(['key', 'unordered']).default('unordered').describe('`key`: records with the same key are processed one at a time, in order; `unordered`: maximum throughput. An `aggregate` step always runs in `key`.'),
    batchSize: count(256, 1, MAX_BATCH_ENTRIES).describe('Records sent to a worker at once (for a stage group: its head\'s setting). Measured: 64 cost the coordinator ~60% more CPU per record than 256 (bench:pipeline, case a).'),
    timeout: duration('30s').describe('Per-record timeout; a record that takes longer fails with PROCESSOR_TIMEOUT (retried). 0 = no timeout.'),
    maxOutputs: count(DEFAULT_MAX_OUTPUTS, 1, MAX_OUTPUTS_LIMIT).describe('Most outputs the processor may produce for one record (`ctx.emit` calls plus returned values). One more fails the record with OUTPUT_LIMIT, not retried: it is dead-lettered and none of its outputs are written. It bounds the worker memory one record can take (a processor emitting without end would otherwise fill the thread\'s heap, crash it, and be retried).'),
    maxOutputBytes: size('64MiB', { bytes: MAX_OUTPUT_BYTES_LIMIT, why: 'the 1GiB limit' }, 1).describe('Most bytes of outputs the processor may produce for one record: strings, binary values and the keys and headers an output carries of its own count as they are emitted (a string its length), and every output as encoded, once for each sink and each next stage group it goes to (what the coordinator holds), when the record\'s step ends. Past it the record fails with OUTPUT_LIMIT, not retried: it is dead-lettered and none of its outputs are written. It bounds the memory one record\'s outputs take in the worker and the coordinator (without it, one record emitting 50 values of 30 MB took the run to 8.4 GB).'),
    retry: z
      .strictObject({
        attempts: count(3).describe('Total attempts per record, the first included (1 = no retry).'),
        backoff: z.enum(['exponential', 'linear', 'fixed']).default('exponential').describe('How the delay grows between attempts.'),
        initialDelay: duration('100ms').describe('Delay before the second attempt.'),
        maxDelay: duration('5s').describe('Largest delay between attempts.'),
      })
      .superRefine(ordered('initialDelay', 'maxDelay', 'ms'))
      .prefault({})
      .describe('Retries of a failing record before it is dead-lettered.'),
    deadLetter: topic().optional().describe('Dead-letter topic for records that fail every attempt. Default: `<topic of the first upstream source>.dlq`.'),
    config: z.record(z.string(), z.unknown()).default({}).describe('Anything: passed to the processor as `ctx.config`. Not with `aggregate` (its keys are the settings).'),
    stores: z
      .array(z.string().min(1))
      .default([])
      .describe('State stores (declared under `stores:`) the processor uses through `ctx.state(name)`. A processor with stores must use `ordering: key`. An `aggregate` step uses `aggregate.store`.'),
    rekey: z
      .boolean()
      .default(false)
      .describe('The processor emits records whose key differs from its input\'s (`ctx.emit(output, value, { key })`). A step in `ordering: key` fed by it then starts a new stage group, like a repartition (docs/pipeline.md, "Stage groups"); when the topology is partitioned the records go through an internal repartition topic, so each new key is processed by the instance owning it (docs/scaling.md). Undeclared key changes are still safe: such records leave their group at run time, with a warning.'),
    fuse: z
      .boolean()
      .default(true)
      .describe('Run in one worker task with the processors around it (a stage group) when the ordering allows it. `false` gives the processor a stage group of its own: every record crosses threads before and after it.'),
  })
  .describe('A processor — a module, or a built-in `aggregate` step — and how it runs.');

const sink = z
  .strictObject({
    topic: topic().describe('The Walrus topic to write.'),
    partitions: partitions('the topic written'),
    input: inputRef.describe('The processor output written to the topic: `processor.output`, or `processor` for its `default` output.'),
    format: recordFormat.default('envelope').describe('`envelope` keeps keys, headers and ids; `text` writes the bare value for other clients.'),
    serializer: serializer.default('json').describe('How record values are encoded.'),
    compression: z
      .strictObject({
        codec: z.enum(['none', 'gzip', 'brotli']).default('none').describe('Compression of envelope entries.'),
        threshold: size('1KiB', FRAME).describe('Entries smaller than this are not compressed.'),
      })
      .prefault({})
      .describe('Compression of written entries.'),
    batch: z
      .strictObject({
        maxRecords: count(2000, 1, MAX_BATCH_ENTRIES).describe('Most records written per request (bytes are capped by maxBytes anyway).'),
        maxBytes: size('60KiB', FRAME, 1).describe('Most bytes per request (must fit one frame).'),
        linger: duration('5ms').describe('How long a partial batch waits for more records.'),
      })
      .prefault({})
      .describe('Write batching.'),
  })
  .describe('A topic a processor output is written to.');

const observability = z
  .strictObject({
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('Log level.'),
    http: z
      .union([address(), z.literal(false)], { error: (i) => `expected host:port or false, got ${show(i.input)}` })
      .default(false)
      .describe('`host:port` of the HTTP server for /metrics, /healthz and /readyz; `false` disables it.'),
    httpAuth: z
      .strictObject({
        token: z.string().min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)').optional().describe('Bearer token required for /metrics and /readyz: write `${METRICS_TOKEN}`, not the token. Never logged.'),
        username: z.string().min(1).optional().describe('User name for HTTP basic auth on /metrics and /readyz.'),
        password: z.string().min(1).optional().describe('Password for HTTP basic auth: write `${METRICS_PASSWORD}`. Never logged.'),
      })
      .superRefine((a, ctx) => {
        if ((a.username === undefined) !== (a.password === undefined)) ctx.addIssue({ code: 'custom', path: [a.username === undefined ? 'username' : 'password'], message: '`username` and `password` go together' });
      })
      .optional()
      .describe('Credentials for /metrics and /readyz (/healthz stays open). Required when `http` binds beyond loopback, unless `run --insecure`.'),
    redactHeaders: z
      .array(z.string().min(1))
      .default([...DEFAULT_REDACT_HEADERS])
      .describe('Record headers whose values are replaced by `[redacted]` in every log line (coordinator and worker threads; case-insensitive). The default ones are redacted even when left out.'),
  })
  .describe('Logs, metrics and health.');

export const topologySchema = z
  .strictObject({
    app: z
      .string()
      .regex(APP_NAME_PATTERN, { error: (i) => `expected a name that starts with a letter or digit and uses only A-Z a-z 0-9 . _ -, got ${show(i.input)}` })
      // It names a directory (<stateDir>/<app>): a longer name failed run with ENAMETOOLONG.
      .superRefine((value, ctx) => {
        if (value.length > MAX_APP_NAME) ctx.addIssue({ code: 'custom', message: `${value.length} characters long, the limit is ${MAX_APP_NAME} (it names the directory <stateDir>/<app>)` });
      })
      .meta({ maxLength: MAX_APP_NAME })
      .describe('Application name; scopes local state under `stateDir/app`.'),
    stateDir: z.string().min(1).default('.walrus-stream').describe('Local state directory (journal, state stores), relative to the topology file.'),
    workers: z
      .union([z.number().int().min(1).max(MAX_WORKERS), z.literal('auto')], { error: (i) => `expected a whole number from 1 to ${MAX_WORKERS} or "auto", got ${show(i.input)}` })
      .default('auto')
      .describe('Worker threads running processors: a number, or `auto` (one per core).'),
    cluster: clusterSchema.prefault({}),
    sources: named(source).describe('Topics to read, by name.'),
    processors: named(processor).describe('Processors, by name.'),
    sinks: named(sink).prefault({}).describe('Topics processor outputs are written to, by name.'),
    stores: z.record(z.string(), storeSchema).prefault({}).describe('Keyed state stores, by name (see docs/state.md); processors list the ones they use under `stores`.'),
    observability: observability.prefault({}),
    workerPool: workerPoolSchema.prefault({}),
    journal: journalSchema.prefault({}),
  })
  // Editors must accept the `x-` extension keys load.ts strips before validation.
  .meta({ patternProperties: { '^x-': {} } })
  .describe('A walrus-stream topology (topology.yaml). Top-level keys starting with `x-` are ignored: use them for YAML anchors.');

/** What the schema outputs (before references are resolved). */
export type ParsedTopology = output<typeof topologySchema>;
