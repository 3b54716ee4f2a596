import { dirname, resolve } from 'node:path';
import { WalrusError } from '../errors/index.js';
import { FileTooLargeError, readTextBounded } from '../util/read-bounded.js';
import { DiagnosticList, formatDiagnostic } from './validate/diagnostics.js';
import { interpolate } from './interpolate.js';
import { reportIssues } from './validate/issues.js';
import { checkModuleExports, checkModuleFiles } from './validate/modules.js';
import { checkModulesIsolated } from './validate/isolated-modules.js';
import { normalise } from './normalise.js';
import { checkSemantics } from './validate/semantics.js';
import { checkDeprecations } from './validate/deprecations.js';
import { SourceMap } from './validate/source-map.js';
import { reportTags } from './validate/tags.js';
import { TOO_DEEP, deepestLine, isTooDeep, reportSyntax } from './validate/syntax.js';
import { DEFAULT_MAX_TOPOLOGY_ALIASES, DEFAULT_MAX_TOPOLOGY_BYTES, aliasProblem, sizeProblem } from './validate/limits.js';
import type { Diagnostic, LoadTopologyOptions, LoadedTopology } from './types.js';

/**
 * Reads, interpolates, validates and normalises a topology file.
 *
 * Every problem is collected and reported at once, sorted by position; the
 * thrown error is `TOPOLOGY_INVALID` with `context.diagnostics` (errors and
 * warnings). Warnings alone do not fail: they are returned.
 *
 * @example
 * const { topology, warnings } = await loadTopology('topology.yaml', { env: process.env });
 */
export async function loadTopology(file: string, options: LoadTopologyOptions = {}): Promise<LoadedTopology> {
  const full = resolve(options.cwd ?? process.cwd(), file);
  let text: string;
  try {
    text = await readBounded(full, file, options);
  } catch (error) {
    if (error instanceof WalrusError) throw error;
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw invalid(file, [{ file, line: 1, col: 1, message: `cannot read the topology: ${reason} (${full})`, severity: 'error' }]);
  }
  return loadTopologyText(text, file, options);
}

/**
 * The topology's text, never more than the size limit (src/util/read-bounded.ts):
 * a regular file's size is checked before it is read; a pipe or a device
 * (`<(...)`, /dev/stdin, /dev/zero) is read no further than the limit.
 */
async function readBounded(full: string, file: string, options: LoadTopologyOptions): Promise<string> {
  const max = options.maxBytes ?? DEFAULT_MAX_TOPOLOGY_BYTES;
  try {
    return await readTextBounded(full, max, 'a topology');
  } catch (error) {
    if (!(error instanceof FileTooLargeError)) throw error;
    const problem = error.size !== undefined ? sizeProblem(error.size, options)! : {
      line: 1, col: 1, message: `the topology, read from a pipe or device, passed the limit of ${max} bytes ` +
        '(stopped reading there; a topology is normally a few KB); if this really is a topology, raise the limit with --max-topology-size',
    };
    throw invalid(file, [{ file, ...problem, severity: 'error' }]);
  }
}

/** Same as `loadTopology`, for text already in memory; `file` names it in messages and anchors relative paths. */
export async function loadTopologyText(text: string, file: string, options: LoadTopologyOptions = {}): Promise<LoadedTopology> {
  const full = resolve(options.cwd ?? process.cwd(), file);
  const dir = dirname(full);
  const tooBig = sizeProblem(Buffer.byteLength(text), options) ?? aliasProblem(text, options);
  if (tooBig) throw invalid(file, [{ file, ...tooBig, severity: 'error' }]);
  let map: SourceMap;
  try {
    map = new SourceMap(text);
  } catch (error) {
    if (!isTooDeep(error)) throw error;
    throw invalid(file, [{ file, ...deepestLine(text), message: TOO_DEEP, severity: 'error' }]);
  }
  const out = new DiagnosticList(file, map);
  if (reportSyntax(map, out, text) || reportTags(map, out)) throw invalid(file, out.all);

  interpolate(map, options.env ?? process.env, out);
  let raw: unknown;
  try {
    // maxAliasCount bounds alias expansion ("billion laughs"): a topology is small.
    raw = withoutExtensions(map.doc.toJS({ maxAliasCount: options.maxAliases ?? DEFAULT_MAX_TOPOLOGY_ALIASES }));
  } catch (error) {
    out.error({ line: 1, col: 1 }, isTooDeep(error) ? TOO_DEEP : `YAML: ${(error as Error).message}`);
    throw invalid(file, out.all);
  }
  if (raw === null || raw === undefined) {
    out.error({ line: 1, col: 1 }, 'the topology is empty; it needs at least "app", "sources" and "processors"');
    throw invalid(file, out.all);
  }
  // Processor modules are imported on their own threads (isolated-modules.ts)
  // while this thread loads the schema and checks the rest: start-up of those
  // threads and of zod overlap instead of adding up.
  const modulePaths = checkModuleFiles(raw, dir, out);
  const modulesChecked = options.loadModules === 'in-process' ? checkModuleExports(modulePaths, out)
    : options.loadModules ? checkModulesIsolated(modulePaths, out, options) : undefined;
  const { topologySchema } = await import('./schema/schema.js');
  const parsed = topologySchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) reportIssues(parsed.error.issues, raw, out);
  const resolution = checkSemantics(raw, out);
  checkDeprecations(raw, out);
  await modulesChecked;

  if (out.hasErrors || !parsed.success) throw invalid(file, out.all);
  return { topology: normalise(parsed.data, resolution, full, dir), warnings: out.warnings };
}

/**
 * Top-level keys starting with `x-` are ignored, as in Docker Compose: they
 * hold YAML anchors (`x-defaults: &defaults`) that processors merge in.
 */
function withoutExtensions(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  return Object.fromEntries(Object.entries(raw).filter(([key]) => !key.startsWith('x-')));
}

function invalid(file: string, diagnostics: Diagnostic[]): WalrusError {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const lines = diagnostics.map(formatDiagnostic);
  return new WalrusError(
    'TOPOLOGY_INVALID',
    `${file}: ${errors.length} error${errors.length === 1 ? '' : 's'}\n${lines.join('\n')}`,
    { context: { file, diagnostics } },
  );
}
