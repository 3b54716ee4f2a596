import { createRequire } from 'node:module';
import type { z as Zod } from 'zod';

let loaded: typeof Zod | undefined;

/**
 * zod, loaded on first call. Why not `import { z } from 'zod'`: zod is the
 * largest module the package uses (some 800 KB), and the package entry
 * reaches it through the client's option checks; every worker thread imports
 * the entry (a processor's `import 'walrus-stream'`) and would load it for
 * nothing. A synchronous `require` keeps the option checks synchronous. Every
 * part of the package takes zod from here, so one copy is ever loaded (the
 * CommonJS one), never both builds.
 */
export function zod(): typeof Zod {
  loaded ??= (createRequire(import.meta.url)('zod') as { z: typeof Zod }).z;
  return loaded;
}
