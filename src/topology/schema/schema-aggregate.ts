import { zod } from '../../util/zod.js';
import type { output } from 'zod';
import { DURATION_PATTERN, show } from './schema-fields.js';
import { didYouMean } from '../validate/suggest.js';
import { DURATION_FORMS, parseDuration } from '../units.js';

const z = zod();

/**
 * `processors.<name>.aggregate:` — a declarative aggregation step (count /
 * sum / min / max / avg / first / last by record key, optionally in tumbling
 * or hopping event-time windows). The shape is checked here; the rules that
 * span keys (a field for every op but count, hopping advance ≤ size, the
 * late output declared, the store declared, ...) are in `aggregate.ts`,
 * which sees positions and the rest of the file.
 */

/** The operations, in the order the docs list them. */
export const AGGREGATE_OPS = ['count', 'sum', 'min', 'max', 'avg', 'first', 'last'] as const;

/** A dotted path of value fields: `totalEur`, `order.total`, `items.0.price`. */
export const FIELD_PATH_PATTERN = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/;
/** A header name (an HTTP token). */
export const HEADER_NAME_PATTERN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** Most windows one record may fall in (`size / advance` of a hopping window). */
export const MAX_WINDOWS_PER_RECORD = 100;

const positiveDurationError = (issue: { input?: unknown }) => `expected a duration greater than 0 (${DURATION_FORMS}), got ${show(issue.input)}`;

/** A required duration above 0 → milliseconds (window sizes and advances). */
function positiveDuration(why = 'a window needs a length') {
  return z
    .union([z.number().nonnegative(), z.string().regex(new RegExp(DURATION_PATTERN), { error: positiveDurationError })], { error: positiveDurationError })
    .transform((value, ctx) => {
      const ms = parseDuration(value)!;
      if (ms <= 0) ctx.issues.push({ code: 'custom', input: value, message: `must be greater than 0, got ${show(value)}; ${why}` });
      return ms;
    });
}

const graceError = (issue: { input?: unknown }) => {
  const negative = (typeof issue.input === 'number' && issue.input < 0) || (typeof issue.input === 'string' && issue.input.trim().startsWith('-'));
  return negative
    ? `must not be negative, got ${show(issue.input)}: grace is how long after a window's end its records are still accepted (0 = none)`
    : `expected a duration (${DURATION_FORMS}), got ${show(issue.input)}`;
};

/** The grace period: a duration ≥ 0 (default 0), with a message of its own for a negative one. */
function graceDuration() {
  return z
    .union([z.number().nonnegative(), z.string().regex(new RegExp(DURATION_PATTERN), { error: graceError })], { error: graceError })
    .transform((value) => parseDuration(value)!)
    .prefault('0ms');
}

const fieldPath = (what: string) => z
  .string()
  .regex(FIELD_PATH_PATTERN, { error: (i) => `expected ${what}: names of letters, digits, _, $ and - joined by dots (e.g. totalEur or order.total), got ${show(i.input)}` })
  .meta({ pattern: FIELD_PATH_PATTERN.source });

const TIME_FORMS = '"record" (the record timestamp), { field: <dotted path> } or { header: <name> }';

/** One message for whatever is wrong with `time:` (zod reports a union as a whole). */
function timeError(input: unknown): string {
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const keys = Object.keys(input);
    const value = (input as Record<string, unknown>)[keys[0] ?? ''];
    if (keys.length === 1 && keys[0] === 'field') return `"field" must be a dotted field path (names of letters, digits, _, $ and - joined by dots, e.g. createdAt or order.createdAt), got ${show(value)}`;
    if (keys.length === 1 && keys[0] === 'header') return `"header" must be a header name (letters, digits and !#$%&'*+.^_\`|~-), got ${show(value)}`;
    if (keys.includes('field') && keys.includes('header')) return 'give either "field" or "header", not both';
    const other = keys.find((k) => k !== 'field' && k !== 'header');
    if (other !== undefined) return `unknown key "${other}"${didYouMean(other, ['field', 'header'])}; expected ${TIME_FORMS}`;
  }
  return `expected ${TIME_FORMS}, got ${show(input)}`;
}

const eventTime = z
  .union([
    z.literal('record'),
    z.strictObject({ field: fieldPath('a dotted field path') }),
    z.strictObject({ header: z.string().regex(HEADER_NAME_PATTERN, { error: (i) => `expected a header name (letters, digits and !#$%&'*+.^_\`|~-), got ${show(i.input)}` }).meta({ pattern: HEADER_NAME_PATTERN.source }) }),
  ], { error: (i) => timeError(i.input) })
  .default('record')
  .describe('Where a record\'s event time is read: `record` (the time it was produced), `{ field: createdAt }` (a value field, dotted path allowed) or `{ header: x-event-time }`; epoch milliseconds or an ISO-8601 string.');

export const aggregateWindowSchema = z
  .strictObject({
    tumbling: positiveDuration().optional().describe('Size of tumbling (back-to-back, non-overlapping) windows, e.g. `1m`. Give `tumbling` or `hopping`.'),
    hopping: z
      .strictObject({
        size: positiveDuration().describe('Length of each window.'),
        advance: positiveDuration().describe('How far each window starts after the previous one; at most `size`, and `size / advance` at most 100.'),
      })
      .optional()
      .describe('Overlapping windows of `size` starting every `advance`: a record counts in `size / advance` of them. Give `tumbling` or `hopping`.'),
    grace: graceDuration().describe('How long after a window\'s end records are still accepted; the window closes (and its final result is emitted) once a later record of the key passes `end + grace`.'),
    time: eventTime,
    maxAhead: positiveDuration('a little clock skew is always there (leave maxAhead out for no limit)').optional().describe('Refuse (dead-letter, with the reason) a record whose event time is more than this ahead of the host\'s clock, e.g. `1h`: one record stamped in the year 9999 would otherwise move its key\'s stream time forward, close its windows early and make its later records late. Default: no limit.'),
  })
  .describe('Event-time windows (aligned to the epoch, `[start, end)`); without `window`, one running aggregate per key.');

export const aggregateSchema = z
  .strictObject({
    store: z.string().min(1).describe('State store (declared under `stores:`) that keeps the aggregates; used by this step only.'),
    op: z.enum(AGGREGATE_OPS).describe('`count` records; `sum`, `min`, `max`, `avg` of a numeric field; `first` / `last` value of a field.'),
    field: fieldPath('a dotted field path').optional().describe('The value field the op reads (dotted path allowed, e.g. `order.totalEur`); required for every op but `count`, which takes none.'),
    window: aggregateWindowSchema.optional(),
    emit: z
      .enum(['close', 'update'])
      .optional()
      .describe('`close`: one result per window, when it closes (`final: true`); `update`: a result on every record (`final: false`) and, with a window, the final one when it closes. Default: `close` with a window, `update` without.'),
    late: z
      .string()
      .min(1)
      .default('dlq')
      .describe('Records whose windows have all closed: `dlq` (dead-lettered with LATE_RECORD), `drop`, or the name of one of the step\'s `outputs` to send them to. Windowed steps only.'),
  })
  .describe('A built-in aggregation by record key, instead of a `module`: implies `ordering: key` and `stores: [<store>]`; results go to the `default` output (docs/state.md, "Declarative aggregations in the topology").');

/** The schema output of `aggregate:` (durations in ms). */
export type ParsedAggregate = output<typeof aggregateSchema>;
