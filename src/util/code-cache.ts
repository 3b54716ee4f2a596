import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/**
 * Requires one of the package's own CommonJS files (the vendored zod) with
 * V8's code cache: the bytecode V8 compiled for it on an earlier run is kept
 * next to the file and reused, so a start does not parse and compile it again
 * (zod: ~70 → ~30 ms on the 2-core machine). What `require` does, minus
 * `require.cache`: the file is a self-contained bundle, loaded once per
 * thread by its caller.
 *
 * The cache is written at exit, so it holds the functions that run compiled
 * (V8 compiles lazily), atomically (a temporary file, renamed). Its name
 * carries the Node version, the architecture and a hash of the file: a
 * rebuilt file or another Node never reads a stale cache, and V8 itself
 * rejects one whose flags differ (it is then rewritten). Where the package's
 * directory is read-only nothing is written, and every start compiles, as
 * plain `require` does. Only ever used for files of this package, never a
 * user's.
 */
export function requireWithCodeCache(file: string): unknown {
  const source = readFileSync(file, 'utf8');
  // A hash of the content, not size and mtime: npm gives every installed file the same mtime.
  const digest = createHash('sha1').update(source).digest('hex').slice(0, 16);
  const cacheFile = `${file}.${process.version}-${process.arch}-${digest}.v8cache`;
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // Not written yet (first start with this build and this Node).
  }
  const script = new Script(Module.wrap(source), { filename: file, cachedData });
  const module = { exports: {} as unknown };
  const wrapper = script.runInThisContext() as (this: unknown, ...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  if (cachedData === undefined || script.cachedDataRejected === true) {
    process.once('exit', () => {
      const temporary = `${cacheFile}.${process.pid}.tmp`;
      try {
        writeFileSync(temporary, script.createCachedData());
        renameSync(temporary, cacheFile);
      } catch {
        // A read-only install (or the name taken): no cache, as before, and no temporary file left.
        try {
          rmSync(temporary, { force: true });
        } catch {
          // Nothing more to do at exit.
        }
      }
    });
  }
  return module.exports;
}
