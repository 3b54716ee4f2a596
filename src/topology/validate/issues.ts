import type { core } from 'zod';
import type { DiagnosticList } from './diagnostics.js';
import { keysAt, placesOfKey } from '../schema/json-schema.js';
import { show } from '../schema/schema-fields.js';
import type { Path } from './source-map.js';
import { closest } from './suggest.js';

/**
 * Turns zod issues into positioned, human messages: `path: what is wrong,
 * what was found, what to do`. zod's default texts are replaced because they
 * name JS types ("received string"), not what the user wrote.
 */

type Issue = core.$ZodIssue;

const SECTIONS: Record<string, string> = { sources: 'source', processors: 'processor', sinks: 'sink' };

/** `processors.parse.retry.attempts`, `cluster.nodes[0]`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out ? `.${String(segment)}` : String(segment);
  }
  return out;
}

const prefix = (path: Path): string => (path.length === 0 ? '' : `${formatPath(path)}: `);

const EXPECTED: Record<string, string> = {
  string: 'a string', number: 'a number', int: 'a whole number', boolean: 'true or false',
  object: 'a mapping', record: 'a mapping', array: 'a list',
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The classic indentation slip: a key of a source (processor, sink) written
 * one level too shallow becomes a new entry of the section. Reports it with a
 * hint and returns the paths whose zod issues it explains.
 */
function indentationSlips(raw: unknown, out: DiagnosticList): Path[] {
  const handled: Path[] = [];
  if (!isObject(raw)) return handled;
  for (const [section, kind] of Object.entries(SECTIONS)) {
    const entries = raw[section];
    if (!isObject(entries)) continue;
    const entryKeys = keysAt([section, '*']);
    let previous: string | undefined;
    for (const [name, value] of Object.entries(entries)) {
      if (!isObject(value) && entryKeys.includes(name)) {
        const under = previous === undefined ? '' : ` It looks like a key of ${kind} "${previous}": indent it under "${previous}".`;
        out.error([section, name], `${section}.${name}: "${name}" is a ${kind} key, but it is indented as a new ${kind} named "${name}" — is it indented correctly?${under}`, { preferKey: true });
        handled.push([section, name]);
        if (previous !== undefined && entries[previous] === null) handled.push([section, previous]);
        // The key is missing where it belongs because it is here: that is the same mistake.
        if (previous !== undefined) handled.push([section, previous, name]);
      } else {
        previous = name;
      }
    }
  }
  return handled;
}

function valueAt(raw: unknown, path: Path): unknown {
  let value = raw;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function unknownKey(raw: unknown, path: Path, key: string, out: DiagnosticList): void {
  const allowed = keysAt(path);
  const where = path.length === 0 ? 'at the top level' : `in ${formatPath(path)}`;
  const match = closest(key, allowed.filter((k) => !Object.hasOwn(Object(valueAt(raw, path)), k)));
  let hint: string;
  if (match !== undefined) hint = ` — did you mean "${match}"?`;
  else {
    const places = placesOfKey(key).filter((p) => p !== formatPath(path));
    hint = places.length > 0
      ? ` — is it indented correctly? "${key}" is a key of ${places.join(', ')}`
      : allowed.length > 0 ? `; allowed keys: ${allowed.join(', ')}` : '';
  }
  out.error([...path, key], `unknown key "${key}" ${where}${hint}`, { preferKey: true });
}

/** Keys whose values are secrets: their problems are described without the value. */
const SECRET_KEYS = new Set(['password', 'token']);

function message(issue: Issue, input: unknown): string | undefined {
  const p = prefix(issue.path);
  if (SECRET_KEYS.has(String(issue.path[issue.path.length - 1]))) {
    if (issue.code === 'invalid_type') return `${p}expected ${EXPECTED[issue.expected] ?? issue.expected} (the value is not shown: it is a secret; quote it, or better use \${ENV_VAR})`;
    if (issue.code === 'custom') return `${p}${issue.message}`;
    return `${p}invalid value (not shown: it is a secret)`;
  }
  switch (issue.code) {
    case 'invalid_type': {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      if (input === null && (issue.expected === 'object' || issue.expected === 'record')) {
        return `${issue.path.length === 0 ? 'the file' : formatPath(issue.path)} is empty; expected a mapping`;
      }
      // YAML reads `topic: 2024` or `app: yes`-like values as numbers/booleans; quotes keep the text.
      const quote = issue.expected === 'string' && (typeof input === 'number' || typeof input === 'boolean') ? ` — write "${String(input)}" in quotes to make it text` : '';
      return `${p}expected ${expected}, got ${show(input)}${quote}`;
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string') return `${p}must not be empty`;
      if (issue.origin === 'array') return `${p}must list at least ${min} item${min === 1 ? '' : 's'}`;
      return `${p}must be ${issue.inclusive ? 'at least' : 'greater than'} ${min}, got ${show(input)}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'array') return `${p}must list at most ${max} items`;
      return `${p}must be ${issue.inclusive ? 'at most' : 'less than'} ${max}, got ${show(input)}`;
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      const match = typeof input === 'string' ? closest(input, issue.values.map(String)) : undefined;
      return `${p}expected ${values.length === 1 ? values[0] : `one of ${values.join(', ')}`}, got ${show(input)}${match ? ` — did you mean "${match}"?` : ''}`;
    }
    case 'unrecognized_keys':
      return undefined;
    default:
      return `${p}${issue.message}`;
  }
}

/**
 * The same slip one level deeper: keys meant for a nested mapping written at
 * its parent's level, leaving the nested key empty (`poll:` then
 * `batchSize:` under it but not indented). Returns the keys it explained.
 */
function nestedSlips(raw: unknown, path: Path, unknown: readonly string[], out: DiagnosticList, handled: Path[]): Set<string> {
  const explained = new Set<string>();
  const parent = valueAt(raw, path);
  if (!isObject(parent)) return explained;
  const allowed = keysAt(path);
  let empty: string | undefined;
  for (const [key, value] of Object.entries(parent)) {
    if (allowed.includes(key)) {
      empty = value === null && keysAt([...path, key]).length > 0 ? key : undefined;
    } else if (empty !== undefined && unknown.includes(key) && keysAt([...path, empty]).includes(key)) {
      const where = path.length === 0 ? 'at the top level' : `in ${formatPath(path)}`;
      out.error([...path, key], `unknown key "${key}" ${where} — is it indented correctly? It is a key of "${empty}" above it, which is empty: indent it under "${empty}"`, { preferKey: true });
      handled.push([...path, empty]);
      explained.add(key);
    }
  }
  return explained;
}

/** Reports every zod issue at the position of the value (or key) it is about. */
export function reportIssues(issues: readonly Issue[], raw: unknown, out: DiagnosticList): void {
  const handled = indentationSlips(raw, out);
  const explained = new Map<string, Set<string>>();
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') explained.set(formatPath(issue.path), nestedSlips(raw, issue.path, issue.keys, out, handled));
  }
  // A misspelt required key is reported once, as the unknown key with its "did you mean".
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    for (const key of issue.keys) {
      const match = closest(key, keysAt(issue.path));
      if (match !== undefined) handled.push([...issue.path, match]);
    }
  }
  const covered = (path: Path): boolean =>
    handled.some((h) => h.length <= path.length && h.every((s, i) => String(s) === String(path[i])));
  for (const issue of issues) {
    if (covered(issue.path)) continue;
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        if (!explained.get(formatPath(issue.path))?.has(key)) unknownKey(raw, issue.path, key, out);
      }
      continue;
    }
    const input = (issue as { input?: unknown }).input;
    const parentValue = valueAt(raw, issue.path.slice(0, -1));
    const absent = issue.path.length > 0 && isObject(parentValue) && !Object.hasOwn(parentValue, issue.path[issue.path.length - 1]!);
    if (absent) {
      const parent = issue.path.slice(0, -1);
      const key = String(issue.path[issue.path.length - 1]);
      const where = parent.length === 0 ? '' : ` in ${formatPath(parent)}`;
      out.error(parent, `missing required key "${key}"${where}`, { preferKey: true });
      continue;
    }
    const text = message(issue, input);
    if (text !== undefined) out.error(issue.path, text);
  }
}
