import { pathToFileURL } from 'node:url';
import { WalrusError } from '../errors/index.js';
import { isProcessor } from './define.js';
import type { ProcessorDefinition } from './types.js';

/**
 * Imports a processor module and returns its default-exported processor.
 * Any failure (missing file, syntax error, throw at import, wrong export)
 * becomes PROCESSOR_LOAD_FAILED naming the file, so `run` fails at start with
 * a message a user can act on.
 */
export async function importProcessor(modulePath: string): Promise<ProcessorDefinition> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new WalrusError('PROCESSOR_LOAD_FAILED', `cannot load processor module ${modulePath}: ${reason}`, {
      cause, context: { module: modulePath },
    });
  }
  // A CommonJS module compiled from TS may nest the default export once more.
  const candidates = [mod.default, (mod.default as Record<string, unknown> | undefined)?.default];
  const found = candidates.find((c) => isProcessor(c));
  if (!found) {
    throw new WalrusError(
      'PROCESSOR_LOAD_FAILED',
      `processor module ${modulePath} must default-export defineProcessor({...}) ` +
        `(found ${describe(mod.default)}); add \`export default defineProcessor({ process(record, ctx) { ... } })\``,
      { context: { module: modulePath } },
    );
  }
  return found as unknown as ProcessorDefinition;
}

function describe(value: unknown): string {
  if (value === undefined) return 'no default export';
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  return `a ${typeof value}`;
}
