import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WalrusError, serializeError } from '../errors/index.js';
import { compiledProcessorUrl } from './compiled-cache.js';
import { isProcessor } from './define.js';
import type { ProcessorDefinition } from './types.js';

/**
 * The one processor module loader: `validate` (src/topology/validate/modules.ts)
 * and the worker threads (src/runtime/worker/loaded-processors.ts) both load
 * through here, so a module that validates also runs, and the other way round.
 *
 * The framework itself runs compiled; only a user's TypeScript needs a
 * loader, so tsx is registered lazily, in the thread that needs it, the first
 * time a `.ts`/`.mts`/`.cts` module is loaded. CommonJS modules (`.cjs`,
 * `.cts`, and `.js`/`.ts` in a package without `"type": "module"`) load with
 * `require`: Node 20 mishandles nested `require` calls of a CommonJS module
 * that was reached through `import()` while loader hooks are registered.
 */

/** File extensions a processor module may have. */
export const PROCESSOR_EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'] as const;

/** Matches a path with one of {@link PROCESSOR_EXTENSIONS} (the topology schema uses it). */
export const PROCESSOR_MODULE_PATTERN = /\.(ts|mts|cts|js|mjs|cjs)$/;

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);

/** What loading a processor module gave: its definition, or why not (one sentence, no file name). */
export type ProcessorLoadResult =
  | { ok: true; definition: ProcessorDefinition }
  | { ok: false; kind: 'load-failed' | 'not-a-processor'; problem: string; cause?: unknown };

const FROM_SOURCE = import.meta.url.endsWith('.ts');
let commonJsHooks: Promise<void> | undefined;
let scopedTsxRequire: Promise<(id: string, fromFile: string) => unknown> | undefined;

/**
 * tsx's `require` for CommonJS TypeScript, scoped to the modules loaded
 * through it (and what they require): registered globally, its hook would
 * also compile every later `require` in the thread, so a `.js` with ES
 * syntax in a CommonJS package would load in `run` after a `.cts` processor
 * and fail in `validate`, which loads each module alone.
 */
function scopedRequire(): Promise<(id: string, fromFile: string) => unknown> {
  scopedTsxRequire ??= import('tsx/cjs/api').then((cjs) => cjs.register({ namespace: 'walrus-stream-processors' }).require);
  return scopedTsxRequire;
}
let moduleHooks: Promise<void> | undefined;

/**
 * Registers tsx in this thread, once, for the module system `modulePath` is
 * loaded with. CommonJS needs only tsx's `require` hook, which runs in this
 * thread. ES modules need Node's loader hooks, which run on a separate hooks
 * thread that every later import then waits on: the package is imported
 * first, so the processor's `import 'walrus-stream'` finds it loaded instead
 * of sending some two hundred modules through that thread one by one.
 */
function ensureTypeScript(commonJs: boolean): Promise<void> {
  // Running from the sources (tests), TypeScript already loads: tsx is what runs this file.
  if (FROM_SOURCE) return Promise.resolve();
  if (commonJs) return scopedRequire().then(() => undefined);
  moduleHooks ??= (async () => {
    // Before any hook: the package's own CommonJS dependencies load untouched too.
    await import('../index.js');
    commonJsHooks ??= import('tsx/cjs/api').then((cjs) => { cjs.register(); });
    const [esm] = await Promise.all([import('tsx/esm/api'), commonJsHooks]);
    esm.register();
  })();
  return moduleHooks;
}

let sourceMaps = false;
/** Stack traces of a compiled processor point into its .ts files (the compiled file carries a source map). */
function enableSourceMaps(): void {
  if (sourceMaps) return;
  sourceMaps = true;
  process.setSourceMapsEnabled(true);
}

/**
 * Registers the TypeScript loader ahead of the first TypeScript module, for
 * a thread that expects one (a prestarted `validate` check thread): the
 * registration then overlaps other work. Loading a module registers what it
 * needs anyway, so a wrong guess costs time, never a wrong result. An ES
 * module is expected to load compiled (compiled-cache.ts), without tsx: only
 * the CommonJS `require` hook is registered ahead.
 */
export function prepareTypeScript(commonJs: boolean): Promise<void> {
  return commonJs ? ensureTypeScript(true) : Promise.resolve();
}

const packageTypes = new Map<string, string | undefined>();

/** The `type` of the nearest package.json above `dir` (Node's rule for `.js`, tsx's for `.ts`). */
function packageType(dir: string): string | undefined {
  if (packageTypes.has(dir)) return packageTypes.get(dir);
  let type: string | undefined;
  try {
    type = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: string }).type ?? 'commonjs';
  } catch {
    const parent = dirname(dir);
    type = parent === dir ? undefined : packageType(parent);
  }
  packageTypes.set(dir, type);
  return type;
}

/** Whether `modulePath` loads as CommonJS (Node's rules: extension, then the nearest package.json `type`). */
export function isCommonJs(modulePath: string): boolean {
  const ext = extname(modulePath);
  if (ext === '.cjs' || ext === '.cts') return true;
  if (ext === '.mjs' || ext === '.mts') return false;
  return packageType(dirname(modulePath)) !== 'module';
}

/** Where a default export may sit: ESM `default`, CommonJS `module.exports`, or TS-compiled `exports.default`. */
function candidates(loaded: unknown, viaRequire: boolean): { primary: unknown; all: unknown[] } {
  const asRecord = (v: unknown): Record<string, unknown> | undefined =>
    (typeof v === 'object' && v !== null) || typeof v === 'function' ? (v as Record<string, unknown>) : undefined;
  if (viaRequire) {
    const inner = asRecord(loaded)?.default;
    const esModule = asRecord(loaded)?.__esModule === true;
    return { primary: esModule || inner !== undefined ? inner : loaded, all: [loaded, inner] };
  }
  const outer = asRecord(loaded)?.default;
  return { primary: outer, all: [outer, asRecord(outer)?.default] };
}

function describe(value: unknown): string {
  if (value === undefined) return 'it has no default export';
  if (value === null) return 'its default export is null';
  if (typeof value === 'function') return 'its default export is a function, not a processor definition';
  if (typeof value === 'object') return 'its default export is an object that was not made by defineProcessor';
  return `its default export is ${typeof value}`;
}

/** The fix shown with every "not a processor" problem. */
export const DEFAULT_EXPORT_HINT = 'write `export default defineProcessor({ process(record, ctx) { ... } })`';
/** The same for a JavaScript CommonJS module, where `export default` is a syntax error. */
const MODULE_EXPORTS_HINT = 'write `module.exports = defineProcessor({ process(record, ctx) { ... } })`';

/**
 * Why a module failed to load, pointing into the user's file: the first stack
 * frame in it (`at <file>:<line>:<col>`), or for a JavaScript syntax error
 * (whose stack names only Node's internals) where `node --check` finds it.
 * Paths of the compiled-TypeScript cache are shown as the source file.
 */
function loadFailure(cause: unknown, modulePath: string, compiled: string | undefined): string {
  try {
    return whereItFailed(cause, modulePath, compiled);
  } catch {
    // A thrown Proxy, or an Error whose message or stack getter throws: described, never rethrown.
    return thrownText(cause);
  }
}

/**
 * What a module or an init() threw that is not an Error, as text: a string as it is, anything else described
 * (`{"code":7} (thrown instead of an Error)`, `Symbol(s) (...)`). String() of it said `[object Object]`, or threw.
 */
export function thrownText(thrown: unknown): string {
  return typeof thrown === 'string' ? thrown : serializeError(thrown).message;
}

function whereItFailed(cause: unknown, modulePath: string, compiled: string | undefined): string {
  const error = cause instanceof Error ? cause : undefined;
  let reason = error ? (String(error.message).split('\n')[0] ?? '') : thrownText(cause);
  if (compiled !== undefined) reason = reason.replaceAll(fileURLToPath(compiled), modulePath).replaceAll(compiled, modulePath);
  const url = pathToFileURL(modulePath).href;
  for (const line of (error?.stack ?? '').split('\n').slice(1)) {
    const at = /\((.*):(\d+):(\d+)\)$|at (.*):(\d+):(\d+)$/.exec(line.trim());
    const file = at?.[1] ?? at?.[4];
    if (file === modulePath || file === url) return `${reason} (at ${modulePath}:${at![2] ?? at![5]}:${at![3] ?? at![6]})`;
  }
  if (error instanceof SyntaxError && !TYPESCRIPT.has(extname(modulePath)) && !reason.includes(modulePath)) {
    const checked = spawnSync(process.execPath, ['--check', modulePath], { encoding: 'utf8', timeout: 10_000 });
    const where = /^(.*):(\d+)$/m.exec(checked.stderr ?? '');
    if (where?.[1] === modulePath) return `${reason} (at ${modulePath}:${where[2]})`;
  }
  return reason;
}

/**
 * Loads a processor module (absolute path) and finds its processor. Never
 * throws: a module that cannot load, or exports no processor, is a result.
 */
export async function loadProcessorModule(modulePath: string): Promise<ProcessorLoadResult> {
  const viaRequire = isCommonJs(modulePath);
  const typeScript = TYPESCRIPT.has(extname(modulePath));
  let loaded: unknown;
  let compiled: string | undefined;
  try {
    let url = pathToFileURL(modulePath).href;
    if (typeScript) {
      compiled = viaRequire ? undefined : await compiledProcessorUrl(modulePath);
      if (compiled === undefined) await ensureTypeScript(viaRequire);
      else { url = compiled; enableSourceMaps(); }
    }
    loaded = !viaRequire ? await import(url)
      : typeScript && !FROM_SOURCE ? (await scopedRequire())(modulePath, modulePath) : createRequire(modulePath)(modulePath);
  } catch (cause) {
    // Only an Error goes on as the cause: it crosses from the worker thread, and a thrown Symbol cannot be cloned.
    return { ok: false, kind: 'load-failed', problem: `failed to load: ${loadFailure(cause, modulePath, compiled)}`, ...(isError(cause) ? { cause } : {}) };
  }
  let primary: unknown;
  let found: unknown;
  try {
    let all: unknown[];
    ({ primary, all } = candidates(loaded, viaRequire));
    found = all.find((c) => isProcessor(c));
  } catch (cause) {
    // A Proxy's trap or a getter that throws when the default export is looked at.
    let reason: string;
    try { reason = cause instanceof Error ? String(cause.message).split('\n')[0]! : thrownText(cause); } catch { reason = 'a value that cannot be shown'; }
    return { ok: false, kind: 'not-a-processor', ...(isError(cause) ? { cause } : {}),
      problem: `reading its default export threw (${reason}: a Proxy or a getter?); ${viaRequire && !typeScript ? MODULE_EXPORTS_HINT : DEFAULT_EXPORT_HINT}` };
  }
  if (found === undefined) {
    return { ok: false, kind: 'not-a-processor', problem: `${describe(primary)}; ${viaRequire && !typeScript ? MODULE_EXPORTS_HINT : DEFAULT_EXPORT_HINT}` };
  }
  return { ok: true, definition: found as unknown as ProcessorDefinition };
}

/**
 * Imports a processor module and returns its processor, or fails with
 * PROCESSOR_LOAD_FAILED naming the file, so `run` fails at start with a
 * message a user can act on.
 */
export async function importProcessor(modulePath: string): Promise<ProcessorDefinition> {
  const result = await loadProcessorModule(modulePath);
  if (result.ok) return result.definition;
  const message = result.kind === 'load-failed'
    ? `cannot load processor module ${modulePath}: ${result.problem.slice('failed to load: '.length)}`
    : `processor module ${modulePath} must default-export defineProcessor({...}): ${result.problem}`;
  throw new WalrusError('PROCESSOR_LOAD_FAILED', message, {
    ...(result.cause === undefined ? {} : { cause: result.cause }), context: { module: modulePath },
  });
}

/** `value instanceof Error`, false for a Proxy whose getPrototypeOf trap throws. */
function isError(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}
