import { parseDuration } from '../../topology/units.js';
import type { LogLevel } from '../../topology/types.js';
import { createTestDriver, type TestDriver } from '../test-driver.js';
import type { TestDeadLetter, TestInputRecord, TestOutputRecord } from '../test-records.js';
import { toEpoch, type LoadedTestFile } from './case-file.js';
import type { ExpectedDeadLetter, ExpectedOutput, TestCase } from './case-schema.js';
import { asRegex, compareList, mismatch, show } from './match.js';

/** The outcome of one test case. */
export interface CaseResult {
  name: string;
  /** Line of the case in its file. */
  line: number;
  ok: boolean;
  ms: number;
  /** What did not match, with the expected and actual listings. */
  problems: string[];
}

export interface RunCasesOptions {
  /** Only cases whose name contains this. */
  filter?: string;
  /** What processors log to stderr. @default 'error' */
  logLevel?: LogLevel;
}

/** Runs every case of a file, each on a fresh driver (nothing carries over between cases). */
export async function runCases(loaded: LoadedTestFile, options: RunCasesOptions = {}): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of loaded.cases) {
    if (options.filter !== undefined && !c.name.includes(options.filter)) continue;
    const started = performance.now();
    let problems: string[];
    try {
      problems = await runCase(loaded, c, options.logLevel ?? 'error');
    } catch (error) {
      problems = [`error: ${(error as { code?: string }).code ? `${(error as { code: string }).code}: ` : ''}${(error as Error)?.message ?? String(error)}`];
    }
    results.push({ name: c.name, line: c.line, ok: problems.length === 0, ms: performance.now() - started, problems });
  }
  return results;
}

async function runCase(loaded: LoadedTestFile, c: TestCase, logLevel: LogLevel): Promise<string[]> {
  const driver = await createTestDriver(loaded.topology, {
    logLevel, startTime: c.startTime === undefined ? undefined : toEpoch(c.startTime),
  });
  try {
    const steps = c.steps ?? [{ input: c.input ?? {} }, ...(c.advance === undefined ? [] : [{ advance: c.advance }])];
    for (const step of steps) {
      if ('advance' in step) { await driver.advanceTime(parseDuration(step.advance)!); continue; }
      for (const [source, records] of Object.entries(step.input)) {
        const spec = loaded.topology.sources[source]!;
        await driver.pipe(source, records.map((r) => inputRecord(r, spec.serializer)));
      }
    }
    return check(driver, c);
  } finally {
    await driver.close();
  }
}

/** A test file's record as the driver takes it: for a `string` source, a mapping or list is written as its JSON text. */
function inputRecord(r: NonNullable<TestCase['input']>[string][number], serializer: string): TestInputRecord {
  const value = serializer === 'string' && typeof r.value === 'object' && r.value !== null ? JSON.stringify(r.value)
    : serializer === 'string' && (typeof r.value === 'number' || typeof r.value === 'boolean') ? String(r.value) : r.value;
  return { value, key: r.key, headers: r.headers, id: r.id, timestamp: r.timestamp === undefined ? undefined : toEpoch(r.timestamp) };
}

function check(driver: TestDriver, c: TestCase): string[] {
  const problems: string[] = [];
  for (const [sink, spec] of Object.entries(c.expect.sinks ?? {})) {
    problems.push(...compareList(`sink "${sink}"`, spec, driver.output(sink), outputMismatch, projectOutput));
  }
  const letters = driver.deadLetters();
  // Not mentioned: none expected (a surprise dead letter is almost always a bug in the test or the processor).
  problems.push(...compareList('dead letters', c.expect.deadLetters ?? [], letters, deadLetterMismatch, projectDeadLetter));
  for (const [store, entries] of Object.entries(c.expect.stores ?? {})) {
    for (const [key, expected] of Object.entries(entries)) {
      const actual = driver.storeGet(store, key);
      const m = mismatch(expected, actual, 'subset');
      if (m) problems.push(`store "${store}" key ${JSON.stringify(key)}: ${m}${actual === undefined ? `; keys present: ${show(driver.store(store).map((e) => e.key))}` : ''}`);
    }
  }
  return problems;
}

function outputMismatch(e: ExpectedOutput, a: TestOutputRecord, mode: 'subset' | 'exact'): string | undefined {
  if ('value' in e) { const m = mismatch(e.value, a.value, mode, 'value'); if (m) return m; }
  if (e.key !== undefined) { const m = mismatch(e.key, a.key, 'subset', 'key'); if (m) return m; }
  if (e.headers !== undefined) { const m = mismatch(e.headers, a.headers, 'subset', 'headers'); if (m) return m; }
  if (e.timestamp !== undefined && toEpoch(e.timestamp) !== a.timestamp) {
    return `timestamp: expected ${show(e.timestamp)}, got ${new Date(a.timestamp).toISOString()}`;
  }
  return undefined;
}

function deadLetterMismatch(e: ExpectedDeadLetter, a: TestDeadLetter, mode: 'subset' | 'exact'): string | undefined {
  for (const field of ['processor', 'code', 'topic', 'attempts'] as const) {
    if (e[field] !== undefined && e[field] !== a[field]) return `${field}: expected ${show(e[field])}, got ${show(a[field])}`;
  }
  if (e.message !== undefined) {
    const regex = asRegex(e.message);
    if (regex ? !regex.test(a.message) : !a.message.includes(e.message)) return `message: expected ${regex ? 'a match of' : 'to contain'} ${show(e.message)}, got ${show(a.message)}`;
  }
  if (e.key !== undefined) { const m = mismatch(e.key, a.key, 'subset', 'key'); if (m) return m; }
  if ('value' in e) { const m = mismatch(e.value, a.value, mode, 'value'); if (m) return m; }
  return undefined;
}

function projectOutput(a: TestOutputRecord, like?: ExpectedOutput): unknown {
  if (!like) return { ...(a.key === undefined ? {} : { key: a.key }), value: a.value };
  const out: Record<string, unknown> = {};
  if ('value' in like) out.value = a.value;
  if (like.key !== undefined) out.key = a.key;
  if (like.headers !== undefined) out.headers = Object.fromEntries(Object.keys(like.headers).map((k) => [k, a.headers[k]]));
  if (like.timestamp !== undefined) out.timestamp = new Date(a.timestamp).toISOString();
  return out;
}

function projectDeadLetter(a: TestDeadLetter, like?: ExpectedDeadLetter): unknown {
  const base = { processor: a.processor, code: a.code, message: a.message };
  if (!like) return base;
  return { ...base, ...(like.attempts === undefined ? {} : { attempts: a.attempts }), ...(like.key === undefined ? {} : { key: a.key }),
    ...('value' in like ? { value: a.value } : {}), ...(like.topic === undefined ? {} : { topic: a.topic }) };
}
