import { isDeepStrictEqual } from 'node:util';
import type { ExpectedList } from './case-schema.js';

/**
 * Comparing what a test expects with what arrived. `subset` (the default)
 * checks only what the test wrote: an object's listed keys (recursively),
 * a list element by element, `/regex/flags` strings against strings, `null`
 * for "absent". `exact` wants deep equality.
 */

/** Why `actual` does not match `expected` (undefined: it matches), with the path of the first difference. */
export function mismatch(expected: unknown, actual: unknown, mode: 'subset' | 'exact', path = ''): string | undefined {
  const where = path === '' ? '' : `${path}: `;
  if (mode === 'exact') return isDeepStrictEqual(normalise(expected), normalise(actual)) ? undefined : `${where}expected ${show(expected)}, got ${show(actual)}`;
  if (expected === null) return actual === null || actual === undefined ? undefined : `${where}expected nothing, got ${show(actual)}`;
  const regex = typeof expected === 'string' ? asRegex(expected) : undefined;
  if (regex) return typeof actual === 'string' && regex.test(actual) ? undefined : `${where}expected a string matching ${expected}, got ${show(actual)}`;
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${where}expected a list, got ${show(actual)}`;
    if (actual.length !== expected.length) return `${where}expected ${expected.length} element(s), got ${actual.length}: ${show(actual)}`;
    for (let i = 0; i < expected.length; i++) {
      const m = mismatch(expected[i], actual[i], mode, `${path}[${i}]`);
      if (m) return m;
    }
    return undefined;
  }
  if (isPlainObject(expected)) {
    if (!isPlainObject(actual)) return `${where}expected a mapping, got ${show(actual)}`;
    for (const [key, value] of Object.entries(expected)) {
      const m = mismatch(value, actual[key], mode, path === '' ? key : `${path}.${key}`);
      if (m) return m;
    }
    return undefined;
  }
  return Object.is(expected, actual) || (expected instanceof Date && actual === expected.toISOString())
    ? undefined : `${where}expected ${show(expected)}, got ${show(actual)}`;
}

/** Compares lists of records; `recordMismatch` compares one expected item with one actual record. */
export function compareList<E, A>(label: string, spec: ExpectedList<E>, actual: A[],
  recordMismatch: (expected: E, actual: A, mode: 'subset' | 'exact') => string | undefined,
  project: (actual: A, like?: E) => unknown): string[] {
  const opts = Array.isArray(spec) ? { records: spec } : spec;
  const expected = opts.records;
  const mode = opts.match ?? 'subset';
  const exhaustive = opts.exhaustive ?? true;
  const problems: string[] = [];
  if (opts.count !== undefined && actual.length !== opts.count) problems.push(`${label}: expected ${opts.count} record(s), got ${actual.length}`);
  if (expected === undefined) return problems.length > 0 ? [...problems, ...listing(actual, [], project)] : problems;
  let detail: string | undefined;
  // What the record at the same position lacks: usually the record the test meant.
  const hint = (i: number): string => {
    const m = i < actual.length ? recordMismatch(expected[i]!, actual[i]!, mode) : undefined;
    return m === undefined ? '' : `; actual record ${i + 1}: ${m}`;
  };
  if (exhaustive && actual.length !== expected.length) {
    detail = `${label}: expected ${expected.length} record(s), got ${actual.length}`;
  }
  if (detail === undefined && (opts.order ?? 'strict') === 'strict') {
    // The expected records in this order, each at a later position than the previous one.
    let from = 0;
    for (let i = 0; i < expected.length && detail === undefined; i++) {
      if (exhaustive) {
        const m = recordMismatch(expected[i]!, actual[i]!, mode);
        if (m) detail = `${label}: record ${i + 1}: ${m}`;
        continue;
      }
      const found = actual.findIndex((a, k) => k >= from && recordMismatch(expected[i]!, a, mode) === undefined);
      if (found < 0) detail = `${label}: expected record ${i + 1} not found${from > 0 ? ` after record ${from}` : ''} (in order)${hint(i)}`;
      else from = found + 1;
    }
  } else if (detail === undefined) {
    const used = new Set<number>();
    for (let i = 0; i < expected.length && detail === undefined; i++) {
      const found = actual.findIndex((a, k) => !used.has(k) && recordMismatch(expected[i]!, a, mode) === undefined);
      if (found < 0) detail = `${label}: expected record ${i + 1} not found (any order)${hint(i)}`;
      else used.add(found);
    }
  }
  if (detail !== undefined) problems.push(detail);
  return problems.length > 0 ? [...problems, ...listing(actual, expected, project)] : problems;
}

/** The diff: expected lines (-) and actual lines (+), each actual record shown with the fields its counterpart mentions. */
function listing<E, A>(actual: A[], expected: E[], project: (actual: A, like?: E) => unknown): string[] {
  const lines = [`  expected (${expected.length}):`];
  for (const e of expected) lines.push(`  - ${show(e)}`);
  lines.push(`  actual (${actual.length}):`);
  actual.forEach((a, i) => lines.push(`  + ${show(project(a, expected[i]))}`));
  return lines;
}

/** `/.../flags` → a RegExp. */
export function asRegex(text: string): RegExp | undefined {
  const m = /^\/(.+)\/([dgimsuy]*)$/s.exec(text);
  if (!m) return undefined;
  try {
    return new RegExp(m[1]!, m[2]);
  } catch {
    return undefined;
  }
}

export function show(value: unknown): string {
  if (value === undefined) return '(nothing)';
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function normalise(value: unknown): unknown {
  return value instanceof Date ? value.toISOString() : value;
}
