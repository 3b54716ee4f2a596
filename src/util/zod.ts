import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { z as Zod } from 'zod';
import { requireWithCodeCache } from './code-cache.js';

let loaded: typeof Zod | undefined;

/**
 * zod, loaded on first call. Why not `import { z } from 'zod'`: zod is the
 * largest module the package uses (some 800 KB), and the package entry
 * reaches it through the client's option checks; every worker thread imports
 * the entry (a processor's `import 'walrus-stream'`) and would load it for
 * nothing. A synchronous `require` keeps the option checks synchronous. Every
 * part of the package takes zod from here, so one copy is ever loaded (the
 * CommonJS one), never both builds. Built (dist/), zod is one vendored file
 * (scripts/build.mjs), loaded through V8's code cache (./code-cache.ts);
 * from a source checkout, the installed package.
 */
export function zod(): typeof Zod {
  if (loaded === undefined) {
    const vendored = new URL('../vendor/zod.cjs', import.meta.url);
    const module = existsSync(vendored) ? requireWithCodeCache(fileURLToPath(vendored)) : createRequire(import.meta.url)('zod');
    loaded = (module as { z: typeof Zod }).z;
  }
  return loaded;
}
