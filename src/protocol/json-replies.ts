import { WalrusError, type ErrorContext } from '../errors/index.js';
import { replyTo, throwIfErr } from './reply-errors.js';

/**
 * STATE and METRICS: raw JSON replies, no `OK` prefix.
 *
 * Why a depth limit: a frame holds 64 KiB, enough for 30,000 nested
 * arrays. JSON.parse takes that, but the value it returns overflows the
 * stack of whatever walks it next (JSON.stringify in `walrus-stream
 * metrics`, a logger, util.inspect), far from the node that sent it. A real
 * node's STATE and METRICS nest at most 5 levels.
 */
export const MAX_JSON_DEPTH = 32;

/** STATE: the topic's segments. */
export interface TopicState {
  current_segment: number;
  leader_node: number;
  last_sealed_entry_offset: number;
  sealed_segments: Record<string, number>;
  segment_leaders: Record<string, number>;
  /** Extra fields the embedded node adds in default mode (absent on a stock node). */
  [extra: string]: unknown;
}

export function parseState(body: Buffer, context: ErrorContext = {}): TopicState {
  const value = parseJson(body, context);
  const problem = shapeProblem(value, {
    current_segment: COUNT,
    leader_node: COUNT,
    last_sealed_entry_offset: COUNT,
    sealed_segments: COUNT_MAP,
    segment_leaders: COUNT_MAP,
  });
  if (problem) throw notShaped(context, problem);
  return value as TopicState;
}

/** METRICS: raw pretty JSON of openraft's metrics. Only `state` and `current_leader` are relied upon (DESIGN.md), so only they are checked. */
export interface NodeMetrics {
  id: number;
  state: 'Leader' | 'Follower' | 'Candidate' | 'Learner' | 'Shutdown' | string;
  current_leader: number | null;
  current_term?: number;
  last_log_index?: number | null;
  [extra: string]: unknown;
}

export function parseMetrics(body: Buffer, context: ErrorContext = {}): NodeMetrics {
  const value = parseJson(body, context);
  const problem = shapeProblem(value, {
    state: TEXT,
    current_leader: NODE_OR_NULL,
  });
  if (problem) throw notShaped(context, problem);
  return value as NodeMetrics;
}

/** What one field of a STATE or METRICS reply must hold. */
interface FieldRule {
  test: (value: unknown) => boolean;
  expected: string;
}

/** Node ids, segment numbers and entry counts: JSON integers >= 0. */
function isCount(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

const COUNT: FieldRule = { test: isCount, expected: 'an integer >= 0' };
const COUNT_MAP: FieldRule = {
  test: (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(isCount),
  expected: 'an object of integers >= 0',
};
const TEXT: FieldRule = { test: (v) => typeof v === 'string', expected: 'a string' };
const NODE_OR_NULL: FieldRule = { test: (v) => v === null || isCount(v), expected: 'a node id or null' };

/** The first field of `value` its rule refuses, described; undefined when every field passes. */
function shapeProblem(value: unknown, fields: Record<string, FieldRule>): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'it is not a JSON object';
  for (const [name, rule] of Object.entries(fields)) {
    const field = (value as Record<string, unknown>)[name];
    if (!rule.test(field)) return `"${name}" is ${field === undefined ? 'missing' : JSON.stringify(field).slice(0, 40)}, expected ${rule.expected}`;
  }
  return undefined;
}

function notShaped(context: ErrorContext, problem: string): WalrusError {
  return new WalrusError('PROTOCOL_ERROR', `The ${replyTo(context)} does not have the shape of one: ${problem}.`, { context });
}

function parseJson(body: Buffer, context: ErrorContext): unknown {
  throwIfErr(body, context);
  const what = `The ${replyTo(context)}`;
  const deep = tooDeepAt(body, MAX_JSON_DEPTH);
  if (deep >= 0) {
    throw new WalrusError('PROTOCOL_ERROR', `${what} nests deeper than ${MAX_JSON_DEPTH} levels (byte ${deep}); refused, since a node's STATE or METRICS nests at most 5.`, { context: { ...context, position: deep } });
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (cause) {
    throw new WalrusError('PROTOCOL_ERROR', `${what} is not JSON.`, { context, cause });
  }
}

/** Where `json` opens its (limit+1)-th nested array or object, or -1. Brackets inside strings do not count; UTF-8 continuation bytes never look like ASCII. */
function tooDeepAt(json: Buffer, limit: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i]!;
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next byte is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return -1;
}
