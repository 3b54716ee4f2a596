#!/usr/bin/env node
// Builds the published package into dist/:
//   dist/esm/  ES modules: the .d.ts files of tsc, and the JavaScript as
//              an esbuild bundle with code splitting (below): what
//              `import 'walrus-stream'`, the CLI and worker threads run;
//   dist/cjs/  one CommonJS bundle of the library API for `require()` (Node 20
//              before 20.19 cannot require an ES module), with the same
//              declarations under a `"type": "commonjs"` package.json so
//              TypeScript reads them as CommonJS types.
// Runs from `prepare` (so `npm ci` and `npm pack` build), `npm run build`,
// and with `--if-stale` before `npm start` and `npm test`.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');
const esm = join(dist, 'esm');
const cjs = join(dist, 'cjs');
const require = createRequire(import.meta.url);

function walk(dir, keep) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full, keep));
    else if (keep(entry.name, full)) out.push(full);
  }
  return out;
}

// `--if-stale` (prestart, scripts/run-tests.mjs): skip when dist/ is newer than every
// source file, so a test run after an edit never uses yesterday's build.
const stamp = join(dist, '.build-stamp');
const inputs = [...walk(src, () => true), join(root, 'tsconfig.json'), join(root, 'tsconfig.build.json'), fileURLToPath(import.meta.url)];
if (process.argv.includes('--if-stale') && existsSync(stamp)) {
  const built = statSync(stamp).mtimeMs;
  if (inputs.every((file) => statSync(file).mtimeMs <= built)) process.exit(0);
}

const started = performance.now();
rmSync(dist, { recursive: true, force: true });

const esbuild = require('esbuild');

// 1. ES modules, declarations and source maps.
const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

// Plain JavaScript entry files (worker entries) and the dashboard's static
// assets (read at run time next to their module) are not compiled: copy them.
const assets = `${join('observability', 'dashboard', 'assets')}/`;
for (const file of walk(src, (n, path) => n.endsWith('.mjs') || relative(src, path).startsWith(assets))) {
  const target = join(esm, relative(src, file));
  mkdirSync(dirname(target), { recursive: true });
  cpSync(file, target);
}

// The topology JSON Schema, generated once here instead of at every start
// (src/topology/schema/json-schema.ts reads it when it is there).
const jsonSchema = await import(pathToFileURL(join(esm, 'topology', 'schema', 'json-schema.js')).href);
writeFileSync(join(esm, 'topology', 'schema', 'topology.schema.json'), jsonSchema.topologyJsonSchemaText());

// 2. The ES module bundle. tsc's JavaScript is some 300 files, and Node's ES
// module loader pays for each (resolve, read, compile, link): start-up was
// spent mostly there. esbuild bundles the entries (the package entry, the CLI
// and every file a thread or the loader starts by path) with code splitting:
// shared code goes to dist/esm/chunks/, and every `import()` stays lazy, now
// of a chunk. Each entry keeps the path tsc gave it. Dependencies stay
// external, except small pure JavaScript ones (yaml, p-limit, comlink) whose
// many files cost more than their code. zod, the largest, is required
// synchronously on first use (src/util/zod.ts), so it cannot sit in an ES
// chunk: it becomes one minified CommonJS file, dist/esm/vendor/zod.cjs,
// parsed only by the threads that validate something.
// `import.meta.url` in a module that lands in a chunk would be the chunk's
// URL: it becomes the URL its tsc twin had (files next to a module, such as
// worker entries, assets and the built-in processor, are found as before).
const ESM_ENTRIES = ['index.ts', 'processor/sdk.ts', 'cli/main.ts', 'runtime/worker/task-handler.ts', 'topology/validate/module-check-task.ts',
  'broker/worker-entry.ts', 'processor/builtin/aggregate.ts', 'testing/cases/case-worker.ts'];
const INLINED = new Set(['yaml', 'p-limit', 'yocto-queue', 'comlink']);
const ROOT_MARK = '__WALRUS_ESM_ROOT__';
// tsc's JavaScript goes; the dashboard's assets (plain .js served to the browser) stay.
for (const file of walk(esm, (n, path) => /\.js(\.map)?$/.test(n) && !relative(esm, path).startsWith(assets))) rmSync(file);
const esmTwinPlugin = {
  name: 'import-meta-to-tsc-twin',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      const code = readFileSync(args.path, 'utf8');
      if (!code.includes('import.meta.url')) return { contents: code, loader: 'ts' };
      // Replaced in the syntax tree (esbuild's define), not as text: a
      // template that writes `import.meta.url` into a user's file (init's
      // scaffold) keeps it.
      const twin = relative(src, args.path).replace(/\.ts$/, '.js').split('\\').join('/');
      const out = await esbuild.transform(code, { loader: 'ts', format: 'esm', define: { 'import.meta.url': '__walrusImportMetaUrl' }, sourcefile: args.path, sourcemap: 'inline' });
      return { contents: `const __walrusImportMetaUrl = __walrusEsmTwin(${JSON.stringify(twin)});\n${out.code}`, loader: 'js' };
    });
  },
};
// zod (src/util/zod.ts) is required on first use, from this one-file copy
// instead of zod's ~100 CommonJS files to resolve and read (with V8's code
// cache next to it: src/util/code-cache.ts; a new build starts without one).
for (const file of existsSync(join(esm, 'vendor')) ? readdirSync(join(esm, 'vendor')) : []) if (file.endsWith('.v8cache')) rmSync(join(esm, 'vendor', file));
await esbuild.build({
  stdin: { contents: "module.exports = require('zod');", resolveDir: root, loader: 'js' },
  outfile: join(esm, 'vendor', 'zod.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
const esmBuild = await esbuild.build({
  absWorkingDir: root, // the metafile's paths below are relative to it
  entryPoints: ESM_ENTRIES.map((e) => join(src, e)),
  outdir: esm,
  outbase: src,
  entryNames: '[dir]/[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies ?? {}).filter((d) => !INLINED.has(d)),
  sourcemap: true,
  sourcesContent: false,
  // Less to parse at every start (identifiers stay, so stacks keep their names).
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: true,
  logLevel: 'warning',
  // `require` for the inlined CommonJS code (yaml's Node build).
  banner: { js: `import { createRequire as __walrusCreateRequire } from 'node:module';\nconst require = __walrusCreateRequire(import.meta.url);\n` +
    `const __walrusEsmTwin = (p) => new URL(${JSON.stringify(ROOT_MARK)} + p, import.meta.url).href;` },
  plugins: [esmTwinPlugin],
});
// The licences of the packages whose code now sits inside dist/esm (found
// from what esbuild read: a nested copy is found where it is).
const packageDirs = new Set(['zod']);
for (const input of Object.keys(esmBuild.metafile.inputs)) {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (match) packageDirs.add(match[1]);
}
writeFileSync(join(esm, 'vendor', 'LICENSES.txt'), [...packageDirs].map((entry) => {
  const dir = entry === 'zod' ? dirname(require.resolve('zod/package.json')) : join(root, entry);
  const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  const { name, version, license } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return `${name}@${version} (${license})\n\n${file ? readFileSync(join(dir, file), 'utf8').trim() : 'see the package'}\n`;
}).join(`\n${'-'.repeat(72)}\n\n`));

// Each output file finds the tree's root relative to its own place.
for (const out of Object.keys(esmBuild.metafile.outputs).filter((o) => o.endsWith('.js'))) {
  const full = join(root, out);
  const up = relative(dirname(full), esm).split('\\').join('/');
  writeFileSync(full, readFileSync(full, 'utf8').replace(ROOT_MARK, up === '' ? './' : `${up}/`));
}

// 3. The CommonJS bundle. Dependencies stay external (they all load with
// require()). `import.meta.url` has no CommonJS meaning, so each module's use
// of it becomes the URL of its twin under dist/esm: files found relative to a
// module (worker entries, the built-in aggregate processor, package.json)
// resolve to the compiled ES tree, which worker threads load anyway.
const ESM_ONLY = new Set(['p-limit']);
const importMetaPlugin = {
  name: 'import-meta-to-esm-twin',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      let code = readFileSync(args.path, 'utf8');
      if (code.includes('import.meta')) {
        const twin = relative(src, args.path).replace(/\.ts$/, '.js').split('\\').join('/');
        code = code
          .replaceAll('import.meta.url', `__walrusEsmTwin(${JSON.stringify(twin)})`)
          .replaceAll('import.meta.resolve(', 'require.resolve(');
      }
      return { contents: code, loader: 'ts' };
    });
  },
};
// comlink's Node adapter is imported from its ESM file, whose default export
// is the function. Under require() (Node 20.19+ loads ESM that way) esbuild's
// interop hands back the module namespace as `default`, and starting a worker
// pool from CommonJS threw "nodeEndpoint is not a function". The CommonJS
// bundle requires the adapter's UMD build instead: module.exports is the function.
const comlinkAdapterPlugin = {
  name: 'comlink-node-adapter-umd',
  setup(build) {
    build.onResolve({ filter: /^comlink\/dist\/esm\/node-adapter\.mjs$/ }, () => ({ path: 'comlink/dist/umd/node-adapter.js', external: true }));
  },
};
// One bundle per public entry: the package entry and `walrus-stream/processor`
// (src/processor/sdk.ts). Classes are not shared between the two, and need not
// be: the runtime reads errors and processors by shape (code, retriable, the
// processor brand), not by class.
for (const entry of ['index.ts', 'processor/sdk.ts']) await esbuild.build({
  entryPoints: [join(src, entry)],
  outfile: join(cjs, entry.replace(/\.ts$/, '.js')),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Dependencies stay external, except the ESM-only ones (p-limit and what it
  // imports), which require() cannot load on Node 20: those are bundled in.
  external: Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies ?? {}).filter((d) => !ESM_ONLY.has(d)),
  sourcemap: true,
  sourcesContent: false,
  logLevel: 'warning',
  banner: {
    js: "const __walrusEsmTwin = (p) => require('node:url').pathToFileURL(require('node:path').join(__dirname, '..', 'esm', p)).href;",
  },
  plugins: [comlinkAdapterPlugin, importMetaPlugin],
});
writeFileSync(join(cjs, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);

// Declarations for `require`: the same files, read as CommonJS types because
// of the package.json above.
for (const file of walk(esm, (n) => n.endsWith('.d.ts'))) {
  const target = join(cjs, relative(esm, file));
  mkdirSync(dirname(target), { recursive: true });
  cpSync(file, target);
}

writeFileSync(stamp, `${new Date().toISOString()}\n`);
console.log(`built dist/ in ${Math.round(performance.now() - started)} ms`);
