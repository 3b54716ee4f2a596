import { zod } from '../../util/zod.js';
import type { ZodType } from 'zod';
import { MAX_TOPIC_LENGTH, TOPIC_PATTERN, topicProblem } from '../../protocol/index.js';
import { MAX_PARTITIONS } from '../../codec/partitioning.js';
import { DURATION_FORMS, SIZE_FORMS, durationMs, parseSize } from '../units.js';
import { MAX_TIMER_MS } from '../../util/sleep.js';

const z = zod();

/**
 * Reusable field types of the topology schema. Each one accepts what a person
 * writes in YAML and outputs what the runtime wants (ms, bytes), and carries
 * its own error message, so `issues.ts` only formats what zod found.
 */

/** A short rendering of a bad value for messages. */
export function show(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

export const DURATION_PATTERN = '^\\s*(\\d+(\\.\\d+)?|(\\d+(\\.\\d+)?(ms|s|m|h))+)\\s*$';
export const SIZE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*([bB]|[kKmMgG][iI]?[bB])?\\s*$';

const durationError = (issue: { input?: unknown }) => `expected a duration (${DURATION_FORMS}), got ${show(issue.input)}`;
const sizeError = (issue: { input?: unknown }) => `expected a size (${SIZE_FORMS}), got ${show(issue.input)}`;

// The longest timer Node.js sets: a longer delay fires after 1 ms instead
// (with only a TimeoutOverflowWarning), so `timeout: 1000h` would time every
// record out at once.
export { MAX_TIMER_MS };

/**
 * A duration (`250ms`, `5s`, `1m30s`, number = ms) → milliseconds, at most
 * {@link MAX_TIMER_MS} (every such field sets a timer), or a lower `max`
 * (with why) and at least `min` when given.
 */
export function duration(defaultValue: string, bounds: { min?: number; max?: { ms: number; why: string } } = {}) {
  return z
    .union([z.number().nonnegative(), z.string().regex(new RegExp(DURATION_PATTERN), { error: durationError })], {
      error: durationError,
    })
    .transform((value, ctx) => {
      const exact = durationMs(value)!;
      const ms = Math.round(exact);
      // Durations count whole milliseconds: 0.4ms would become 0, which for some keys means "never" (timeout: 0).
      if (ms === 0 && exact > 0) {
        ctx.issues.push({ code: 'custom', input: value, message: `${show(value)} is less than 1 ms and would round to 0 ms (for a timeout, no timeout at all); durations count whole milliseconds: give 0 or at least 1ms` });
      }
      if (bounds.max !== undefined && ms > bounds.max.ms) {
        ctx.issues.push({ code: 'custom', input: value, message: `${show(value)} is ${ms} ms, over ${bounds.max.why}` });
      } else if (ms > MAX_TIMER_MS) {
        ctx.issues.push({ code: 'custom', input: value, message: `${show(value)} is ${ms} ms, longer than the longest timer Node.js can set (${MAX_TIMER_MS} ms, about 24.8 days); give at most 596h` });
      }
      if (bounds.min !== undefined && ms < bounds.min) ctx.issues.push({ code: 'custom', input: value, message: `must be at least ${bounds.min} ms, got ${show(value)}` });
      return ms;
    })
    .prefault(defaultValue);
}

/** A size (`64KiB`, `1MB`, number = bytes) → bytes, between `min` and `max` when given. */
export function size(defaultValue: string, max?: { bytes: number; why: string }, min = 0) {
  return z
    .union([z.number().int().nonnegative(), z.string().regex(new RegExp(SIZE_PATTERN), { error: sizeError })], {
      error: sizeError,
    })
    .transform((value, ctx) => {
      const bytes = parseSize(value)!;
      if (bytes < min) ctx.issues.push({ code: 'custom', input: value, message: `must be at least ${min} byte${min === 1 ? '' : 's'}, got ${show(value)}` });
      if (max !== undefined && bytes > max.bytes) {
        ctx.issues.push({ code: 'custom', input: value, message: `${show(value)} is ${bytes} bytes, over ${max.why}` });
      }
      return bytes;
    })
    .prefault(defaultValue);
}

/**
 * A Walrus topic name, checked with the protocol's own rules. The `meta`
 * pattern only informs editors (JSON Schema); `topicProblem` decides.
 */
export function topic() {
  return z
    .string()
    .superRefine((value, ctx) => {
      const problem = topicProblem(value);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `invalid topic name: ${problem}` });
    })
    .meta({ pattern: TOPIC_PATTERN.source, minLength: 1, maxLength: MAX_TOPIC_LENGTH });
}

/** Names of sources, processors, sinks and outputs: referable as `processor.output`. */
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** A record keyed by names (checked in semantics.ts, where the key's position is known). */
export function named<T extends ZodType>(value: T) {
  return z.record(z.string().meta({ pattern: NAME_PATTERN.source }), value);
}

/** A `host:port` address. */
export const ADDRESS_PATTERN = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
export function address() {
  return z
    .string()
    .superRefine((value, ctx) => {
      const m = ADDRESS_PATTERN.exec(value);
      if (!m || Number(m[2]) > 65_535) {
        ctx.addIssue({ code: 'custom', message: `expected host:port (e.g. 127.0.0.1:9091), got ${show(value)}` });
      }
    })
    .meta({ pattern: ADDRESS_PATTERN.source });
}

/** `partitions:` of a source, sink or store changelog (docs/scaling.md). */
export function partitions(what: string) {
  return count(1, 1, MAX_PARTITIONS).describe(
    `Partitions of ${what}: 1 (the default) is the topic itself; n > 1 is n Walrus topics \`<topic>.p0\` … \`<topic>.p<n-1>\`, written by key hash (FNV-1a 32 of the key's UTF-8 bytes, modulo n; keyless records round-robin). See docs/scaling.md. At most ${MAX_PARTITIONS}.`,
  );
}

/** Positive integer with an optional upper bound. */
export function count(defaultValue: number, min = 1, max?: number) {
  const base = z.number().int().min(min);
  return (max === undefined ? base : base.max(max)).default(defaultValue);
}

export const serializer = z.enum(['json', 'msgpack', 'string', 'raw']);
export const recordFormat = z.enum(['envelope', 'text']);

/**
 * A refinement for objects with a lower and an upper bound (`min`/`max`,
 * `minInterval`/`maxInterval`): reported at the lower one.
 */
export function ordered<K extends string>(low: K, high: K, unit = '') {
  return (value: Record<K, number>, ctx: { addIssue: (issue: { code: 'custom'; path: string[]; message: string; input: unknown }) => void }): void => {
    if (value[low] > value[high]) {
      ctx.addIssue({ code: 'custom', path: [low], input: value[low], message: `${low} (${value[low]}${unit}) must not exceed ${high} (${value[high]}${unit})` });
    }
  };
}
