import { dirname, relative, resolve } from 'node:path';
import { WalrusError } from '../../errors/index.js';
import { parseDateUtc } from '../../state/dsl/event-time.js';
import { loadTopology } from '../../topology/load.js';
import type { Diagnostic, Topology } from '../../topology/types.js';
import { parseDuration } from '../../topology/units.js';
import { DiagnosticList } from '../../topology/validate/diagnostics.js';
import { formatPath } from '../../topology/validate/issues.js';
import { SourceMap, type Path } from '../../topology/validate/source-map.js';
import { reportSyntax } from '../../topology/validate/syntax.js';
import { testFileSchema, type TestCase, type TestFile } from './case-schema.js';
import { readTextBounded } from '../../util/read-bounded.js';

/** Largest test file read: 64 MiB. */
const MAX_TEST_FILE_BYTES = 64 * 1024 * 1024;

/** A test file, checked against its topology. */
export interface LoadedTestFile {
  /** As given (messages name it so). */
  file: string;
  topology: Topology;
  cases: Array<TestCase & { line: number }>;
}

/**
 * Reads and checks a test file: YAML syntax, the format, and every name it
 * uses (sources, sinks, stores, processors) against the topology. Every
 * problem is reported at once as `file:line:col` (TEST_FILE_INVALID with
 * `context.diagnostics`, like TOPOLOGY_INVALID); a broken topology is
 * reported with its own diagnostics.
 */
export async function loadTestFile(file: string, cwd: string, env: Record<string, string | undefined>): Promise<LoadedTestFile> {
  const full = resolve(cwd, file);
  let text: string;
  try {
    text = await readTextBounded(full, MAX_TEST_FILE_BYTES, 'a test file');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw invalid(file, [{ file, line: 1, col: 1, message: `cannot read the test file: ${reason} (${full})`, severity: 'error' }]);
  }
  const map = new SourceMap(text);
  const out = new DiagnosticList(file, map);
  if (reportSyntax(map, out)) throw invalid(file, out.all);
  let raw: unknown;
  try {
    raw = map.doc.toJS({ maxAliasCount: 100 });
    // Top-level `x-` keys hold YAML anchors to merge (`<<: *name`), as in a topology.
    if (isRecord(raw)) raw = Object.fromEntries(Object.entries(raw).filter(([key]) => !key.startsWith('x-')));
  } catch (error) {
    out.error({ line: 1, col: 1 }, `YAML: ${(error as Error).message}`);
    throw invalid(file, out.all);
  }
  if (raw === null || raw === undefined) {
    out.error({ line: 1, col: 1 }, 'the test file is empty; it needs "tests:" with at least one case (docs/testing.md)');
    throw invalid(file, out.all);
  }
  const parsed = testFileSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) out.error([...issue.path, key] as Path, `${formatPath([...issue.path, key] as Path)}: unknown key "${key}"`, { preferKey: true });
      } else if (issue.code === 'invalid_union') {
        out.error(issue.path as Path, `${formatPath(issue.path as Path)}: expected ${unionHint(issue.path as Path)}`);
      } else {
        out.error(issue.path as Path, `${formatPath(issue.path as Path) || '(file)'}: ${issue.message}`);
      }
    }
  }
  // The names are checked even when the format is not right, so one run reports every problem.
  const data = (parsed.success ? parsed.data : raw) as TestFile;
  const topologyRef = (raw as { topology?: unknown } | null)?.topology;
  if (topologyRef !== undefined && typeof topologyRef !== 'string') throw invalid(file, out.all);
  const topologyFile = resolve(dirname(full), topologyRef ?? 'topology.yaml');
  const fileEnv = isRecord(raw) && isRecord(raw.env) ? raw.env : {};
  let topology: Topology;
  try {
    ({ topology } = await loadTopology(relative(cwd, topologyFile) || topologyFile, { cwd, env: { ...env, ...fileEnv }, loadModules: 'in-process' }));
  } catch (error) {
    // A broken topology (or processor module) has diagnostics of its own: reported with the test file's, if any.
    const context = (error as { code?: string; context?: { diagnostics?: Diagnostic[] } }).context;
    if ((error as { code?: string }).code !== 'TOPOLOGY_INVALID' || !Array.isArray(context?.diagnostics) || !(out.hasErrors || !parsed.success)) throw error;
    throw invalid(file, [...out.all, ...context.diagnostics]);
  }
  try {
    checkNames(data, topology, out);
  } catch (error) {
    // Only a malformed file (already reported) can trip the checks.
    if (parsed.success) throw error;
  }
  if (out.hasErrors || !parsed.success) throw invalid(file, out.all);
  return { file, topology, cases: data.tests.map((c, i) => ({ ...c, line: map.position(['tests', i]).line })) };
}

function isRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unionHint(path: Path): string {
  const last = path[path.length - 1];
  if (last === 'deadLetters' || path[path.length - 2] === 'sinks') return 'a list of records, or a mapping with records / order / match / exhaustive / count';
  if (last === 'startTime' || last === 'timestamp') return 'epoch milliseconds or an ISO-8601 date';
  if (last === 'advance') return 'a duration such as 30s, 5m, 1h, or milliseconds';
  return 'one of the accepted forms (docs/testing.md)';
}

/** Names must exist in the topology; durations and times must parse. */
function checkNames(data: TestFile, topology: Topology, out: DiagnosticList): void {
  const known = (what: string, names: string[]) => `unknown ${what}; the topology has: ${names.join(', ') || '(none)'}`;
  const processors = Object.keys(topology.processors);
  const storeNames = [...new Set(Object.values(topology.processors).flatMap((p) => p.stores))];
  (Array.isArray(data.tests) ? data.tests : []).forEach((c, i) => {
    if (!isRecord(c)) return;
    const at = (...path: PropertyKey[]): Path => ['tests', i, ...path];
    if ((c.input === undefined) === (c.steps === undefined)) {
      out.error(at(), `tests[${i}]: give either "input" (and optionally "advance") or "steps", ${c.input === undefined ? 'not neither' : 'not both'}`, { preferKey: true });
    }
    else if (c.steps !== undefined && c.advance !== undefined) out.error(at('advance'), 'advance: with "steps", write it as a step ({ advance: ... })', { preferKey: true });
    const places: Array<{ input?: unknown; advance?: unknown; path: PropertyKey[] }> = [{ input: c.input, advance: c.advance, path: [] }];
    if (Array.isArray(c.steps)) c.steps.forEach((step, k) => { if (isRecord(step)) places.push({ ...(step as object), path: ['steps', k] }); });
    for (const place of places) {
      for (const [source, records] of Object.entries(isRecord(place.input) ? place.input : {}) as Array<[string, unknown]>) {
        // Own entries only: a case naming source "valueOf" or sink "toString" must be unknown, not Object's.
        const spec = Object.hasOwn(topology.sources, source) ? topology.sources[source] : undefined;
        if (!spec) { out.error(at(...place.path, 'input', source), `source "${source}": ${known('source', Object.keys(topology.sources))}`, { preferKey: true }); continue; }
        (Array.isArray(records) ? records : []).forEach((r: unknown, j) => {
          if (!isRecord(r)) return;
          if (spec.format === 'text' && (r.key !== undefined || r.headers !== undefined || r.timestamp !== undefined || r.id !== undefined)) {
            out.error(at(...place.path, 'input', source, j), `source "${source}" reads plain-text entries, which carry no key, headers, timestamp or id; drop them or use format: envelope`);
          }
          if (r.timestamp !== undefined && toEpoch(r.timestamp) === undefined) out.error(at(...place.path, 'input', source, j, 'timestamp'), 'timestamp: expected epoch milliseconds or an ISO-8601 date');
        });
      }
      const advance = place.advance;
      if ((typeof advance === 'string' || typeof advance === 'number') && parseDuration(advance) === undefined) {
        out.error(at(...place.path, 'advance'), `advance: "${String(advance)}" is not a duration (e.g. 30s, 5m, 1h30m, or milliseconds)`);
      }
    }
    if (c.startTime !== undefined && toEpoch(c.startTime) === undefined) out.error(at('startTime'), 'startTime: expected epoch milliseconds or an ISO-8601 date');
    const expect = isRecord(c.expect) ? c.expect as TestCase['expect'] : {};
    for (const sink of Object.keys(isRecord(expect.sinks) ? expect.sinks : {})) {
      if (!Object.hasOwn(topology.sinks, sink)) out.error(at('expect', 'sinks', sink), `sink "${sink}": ${known('sink', Object.keys(topology.sinks))}`, { preferKey: true });
    }
    for (const store of Object.keys(isRecord(expect.stores) ? expect.stores : {})) {
      if (!storeNames.includes(store)) out.error(at('expect', 'stores', store), `store "${store}": ${known('store (used by a processor)', storeNames)}`, { preferKey: true });
    }
    const dl = expect.deadLetters;
    const letters = dl === undefined ? [] : Array.isArray(dl) ? dl : Array.isArray(dl.records) ? dl.records : [];
    letters.forEach((d, j) => {
      if (!isRecord(d)) return;
      if (d.processor !== undefined && d.processor !== '(decode)' && !processors.includes(d.processor)) {
        const path = Array.isArray(dl) ? at('expect', 'deadLetters', j, 'processor') : at('expect', 'deadLetters', 'records', j, 'processor');
        out.error(path, `processor "${d.processor}": ${known('processor', processors)}`);
      }
    });
  });
}

/** Epoch ms of a timestamp written in a test file (a number, an ISO string, or a YAML date). */
export function toEpoch(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value !== 'string' && !(value instanceof Date)) return undefined;
  // A string is read as event times are: a date-time without an offset is UTC, whatever the host's time zone.
  const ms = value instanceof Date ? value.getTime() : parseDateUtc(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function invalid(file: string, diagnostics: Diagnostic[]): WalrusError {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  return new WalrusError('TEST_FILE_INVALID', `${file}: ${errors.length} error${errors.length === 1 ? '' : 's'}\n${diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.severity}: ${d.message}`).join('\n')}`,
    { context: { diagnostics } });
}
