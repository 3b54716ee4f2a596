import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { pathToFileURL } from 'node:url';

/**
 * A cache of compiled TypeScript processors, so that a user's `.ts`
 * processor (an ES module) loads as plain JavaScript, without registering
 * tsx in the thread that loads it.
 *
 * Why: on Node 20, tsx's ES module hooks run on a separate hooks thread;
 * starting it and loading tsx and esbuild there costs some 300–450 ms in
 * every thread that loads a TypeScript processor (the CLI, each module-check
 * thread, each pool worker), and every later import waits on that thread.
 * A processor compiled once with esbuild (its own files bundled, packages
 * left as imports) and kept on disk loads in a few milliseconds, with no
 * hooks at all, until one of its files changes.
 *
 * Where: `<root>/node_modules/.cache/walrus-stream/ts/`, where `<root>` is
 * the nearest directory above the processor that has a `node_modules`. From
 * there Node resolves the processor's package imports (`'walrus-stream'`,
 * `'zod'`...) in the same `node_modules` as from the processor's own
 * directory, so the compiled file gets exactly the packages the source would.
 *
 * When not: the cache is only an optimisation, and anything whose meaning
 * depends on the file's own location falls back to tsx (`undefined` is
 * returned): `import.meta`, `__dirname`/`__filename`, `require(`, a dynamic
 * `import(` (which resolves relative to the file), no `node_modules` above
 * it, a read-only cache directory, or esbuild not being available.
 * Module state is per processor: two processors importing one helper file
 * each get their own copy of it (as they do in different worker threads).
 */

/** Changes whenever the shape of the compiled output changes (old entries are then ignored). */
const FORMAT = 1;
/** Source that reads its own location: compiled elsewhere it would mean something else. */
const LOCATION_DEPENDENT = /\bimport\.meta\b|\b__dirname\b|\b__filename\b|\brequire\s*\(|\bimport\s*\(/;

interface Manifest {
  format: number;
  output: string;
  inputs: Array<{ path: string; size: number; mtimeMs: number }>;
}

/** A compile error of the processor's own code: shown as the load failure, with where. */
export class TypeScriptCompileError extends Error {}

/** The nearest `node_modules` at or above `dir`, or undefined. */
function nearestNodeModules(dir: string): string | undefined {
  for (let current = dir; ; current = dirname(current)) {
    const candidate = join(current, 'node_modules');
    if (existsSync(candidate)) return candidate;
    if (dirname(current) === current) return undefined;
  }
}

/** The package name of a bare specifier (`@scope/name/sub` → `@scope/name`). */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

interface OwnPackage { name?: string; exports?: unknown }
const ownPackages = new Map<string, OwnPackage>();

function ownPackage(root: string): OwnPackage {
  let own = ownPackages.get(root);
  if (own === undefined) {
    try {
      own = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as OwnPackage;
    } catch {
      own = {};
    }
    ownPackages.set(root, own);
  }
  return own;
}

/** The file an `exports` entry gives under the `import` condition (Node's order: `import`, `node`, `default`). */
function exportTarget(entry: unknown): string | undefined {
  if (typeof entry === 'string') return entry;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return undefined;
  for (const condition of ['import', 'node', 'default']) {
    const target = exportTarget((entry as Record<string, unknown>)[condition]);
    if (target !== undefined) return target;
  }
  return undefined;
}

/**
 * How the compiled file must import a package: as is (Node resolves it from
 * the cache directory exactly as from the source), or, for the project's own
 * name (a package importing itself, as this repository's example does),
 * as the absolute path its `exports` give — Node resolves a self-reference
 * only from files of the package, and the cache is under `node_modules`.
 * `undefined`: not a package (a tsconfig `paths` alias, bundled).
 * `null`: a self-reference this cannot resolve (the processor falls back to tsx).
 */
function packageImport(specifier: string, nodeModules: string): string | null | undefined {
  if (specifier.startsWith('node:') || isBuiltin(specifier)) return specifier;
  const name = packageName(specifier);
  if (existsSync(join(nodeModules, name))) return specifier;
  const root = dirname(nodeModules);
  const own = ownPackage(root);
  if (own.name !== name) return undefined;
  const subpath = `.${specifier.slice(name.length)}`;
  const exportsField = own.exports;
  const entry = typeof exportsField === 'string' || (typeof exportsField === 'object' && exportsField !== null && !Object.keys(exportsField).some((k) => k.startsWith('.')))
    ? (subpath === '.' ? exportsField : undefined)
    : (exportsField as Record<string, unknown> | undefined)?.[subpath];
  const target = exportTarget(entry);
  return target === undefined ? null : pathToFileURL(join(root, target)).href;
}

async function fresh(manifest: Manifest): Promise<boolean> {
  if (manifest.format !== FORMAT) return false;
  for (const input of manifest.inputs) {
    const info = await stat(input.path).catch(() => undefined);
    if (info === undefined || info.size !== input.size || info.mtimeMs !== input.mtimeMs) return false;
  }
  return true;
}

type Esbuild = typeof import('esbuild');
let esbuildModule: Promise<Esbuild | undefined> | undefined;

/** esbuild (a dependency of this package), or undefined if it cannot load here. */
function loadEsbuild(): Promise<Esbuild | undefined> {
  esbuildModule ??= (async () => {
    try {
      const ns = (await import('esbuild')) as Esbuild & { default?: Esbuild };
      return typeof ns.build === 'function' ? ns : ns.default;
    } catch {
      return undefined;
    }
  })();
  return esbuildModule;
}

/**
 * The URL of the compiled form of a TypeScript ES-module processor, compiled
 * now if the cache has no fresh one; `undefined` when it must be loaded
 * through tsx instead (see above). Throws {@link TypeScriptCompileError} for
 * a syntax error in the processor's own files.
 */
export async function compiledProcessorUrl(modulePath: string): Promise<string | undefined> {
  const nodeModules = nearestNodeModules(dirname(modulePath));
  if (nodeModules === undefined) return undefined;
  const dir = join(nodeModules, '.cache', 'walrus-stream', 'ts');
  const id = createHash('sha256').update(`${FORMAT}\0${modulePath}`).digest('hex').slice(0, 20);
  const manifestPath = join(dir, `${id}.json`);
  try {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
    if (await fresh(manifest)) return pathToFileURL(join(dir, manifest.output)).href;
  } catch {
    // No entry, or an unreadable one: compile.
  }
  const esbuild = await loadEsbuild();
  if (esbuild === undefined) return undefined;

  let locationDependent = false;
  let unresolvable = false;
  const inputs: Manifest['inputs'] = [];
  let result;
  try {
    result = await esbuild.build({
      entryPoints: [modulePath], bundle: true, packages: 'external', format: 'esm', platform: 'node', target: 'node20',
      write: false, sourcemap: 'inline', sourcesContent: false, logLevel: 'silent', absWorkingDir: dirname(modulePath),
      outfile: join(dir, `${id}.mjs`),
      plugins: [{
        name: 'location-check',
        setup(build) {
          // A package stays an import, resolved by Node at run time, even where a
          // tsconfig `paths` entry maps its name (as this package's own tsconfig
          // does for 'walrus-stream'): the processor gets the package it would
          // get uncompiled. Other `paths` aliases ('@/util') are still bundled.
          build.onResolve({ filter: /^[^./]/ }, (args) => {
            const target = packageImport(args.path, nodeModules);
            if (target === null) unresolvable = true;
            return typeof target === 'string' ? { path: target, external: true } : undefined;
          });
          build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
            // Stat before reading: a file changed meanwhile makes the entry stale, never wrongly fresh.
            const info = await stat(args.path);
            inputs.push({ path: args.path, size: info.size, mtimeMs: info.mtimeMs });
            const text = await readFile(args.path, 'utf8');
            if (LOCATION_DEPENDENT.test(text)) locationDependent = true;
            return undefined; // esbuild reads and compiles it as usual
          });
        },
      }],
    });
  } catch (error) {
    const first = (error as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> }).errors?.[0];
    if (first === undefined) return undefined;
    const where = first.location ? `${relative(process.cwd(), join(dirname(modulePath), first.location.file)) || first.location.file}:${first.location.line}:${first.location.column + 1}: ` : '';
    throw new TypeScriptCompileError(`${where}${first.text}`);
  }
  if (locationDependent || unresolvable) return undefined;
  const code = result.outputFiles[0]?.contents;
  if (code === undefined) return undefined;
  const output = `${id}-${createHash('sha256').update(code).digest('hex').slice(0, 12)}.mjs`;
  try {
    await mkdir(dir, { recursive: true });
    const manifest: Manifest = { format: FORMAT, output, inputs };
    // Written under a temporary name and renamed: threads compiling at once never see half a file.
    const tmp = `.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(join(dir, tmp), code);
    await rename(join(dir, tmp), join(dir, output));
    await writeFile(join(dir, `${tmp}.json`), JSON.stringify(manifest));
    await rename(join(dir, `${tmp}.json`), manifestPath);
  } catch {
    return undefined; // a read-only or full disk: tsx still loads it
  }
  return pathToFileURL(join(dir, output)).href;
}
