import { statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isProcessor } from '../../processor/define.js';
import type { DiagnosticList } from './diagnostics.js';
import { isRecord } from './references.js';

/**
 * Processor module checks: the file must exist (always checked), and with
 * `loadModules` it is imported and must default-export a processor. Importing
 * runs the module's top-level code, which is why only `validate` and `run`
 * ask for it; `.ts` modules load because the CLI runs under tsx.
 */

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Resolves each processor's module path against the topology directory and checks it exists. */
export function checkModuleFiles(raw: unknown, dir: string, out: DiagnosticList): Map<string, string> {
  const paths = new Map<string, string>();
  if (!isRecord(raw) || !isRecord(raw.processors)) return paths;
  for (const [name, entry] of Object.entries(raw.processors)) {
    if (!isRecord(entry) || typeof entry.module !== 'string' || !/\.(ts|js|mts|mjs)$/.test(entry.module)) continue;
    const full = resolve(dir, entry.module);
    if (isFile(full)) {
      paths.set(name, full);
      continue;
    }
    const other = full.replace(/\.(m?)(ts|js)$/, (_, m: string, ext: string) => `.${m}${ext === 'ts' ? 'js' : 'ts'}`);
    const hint = isFile(other) ? `; there is ${relative(dir, other)} — did you mean that?` : '';
    const shown = isAbsolute(entry.module) ? entry.module : `${entry.module} (${full})`;
    out.error(['processors', name, 'module'], `processors.${name}.module: file not found: ${shown}${hint}`);
  }
  return paths;
}

function describe(value: unknown): string {
  if (value === undefined) return 'it has no default export';
  if (value === null) return 'its default export is null';
  if (typeof value === 'function') return 'its default export is a function, not a processor definition';
  if (typeof value === 'object') return 'its default export is an object that was not made by defineProcessor';
  return `its default export is ${typeof value}`;
}

/** Imports each module and checks its default export is a processor. */
export async function checkModuleExports(paths: Map<string, string>, out: DiagnosticList): Promise<void> {
  for (const [name, full] of paths) {
    const where = ['processors', name, 'module'];
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(full).href)) as { default?: unknown };
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      out.error(where, `processors.${name}.module: failed to load: ${reason}`);
      continue;
    }
    if (!isProcessor(mod.default)) {
      out.error(where, `processors.${name}.module: ${describe(mod.default)}; write \`export default defineProcessor({ process(record, ctx) { ... } })\``);
    }
  }
}
