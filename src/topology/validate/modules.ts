import { statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { PROCESSOR_MODULE_PATTERN, loadProcessorModule } from '../../processor/loader.js';
import type { DiagnosticList } from './diagnostics.js';
import { isRecord } from './references.js';

/**
 * Processor module checks: the file must exist (always checked), and with
 * `loadModules` it is imported and must default-export a processor. Importing
 * runs the module's top-level code, which is why only `validate` and `run`
 * ask for it. Loading goes through src/processor/loader.ts, as in `run`.
 */

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** What is at `path` when it exists but is not a regular file (a directory named x.mjs, a FIFO); undefined when nothing is. */
function kindOf(path: string): string | undefined {
  try {
    const info = statSync(path);
    return info.isDirectory() ? 'a directory' : info.isFIFO() ? 'a named pipe' : 'a device or socket';
  } catch {
    return undefined;
  }
}

/** Resolves each processor's module path against the topology directory and checks it exists. */
export function checkModuleFiles(raw: unknown, dir: string, out: DiagnosticList): Map<string, string> {
  const paths = new Map<string, string>();
  if (!isRecord(raw) || !isRecord(raw.processors)) return paths;
  for (const [name, entry] of Object.entries(raw.processors)) {
    if (!isRecord(entry) || typeof entry.module !== 'string' || !PROCESSOR_MODULE_PATTERN.test(entry.module)) continue;
    const full = resolve(dir, entry.module);
    if (isFile(full)) {
      paths.set(name, full);
      continue;
    }
    const other = full.replace(/\.([mc]?)(ts|js)$/, (_, m: string, ext: string) => `.${m}${ext === 'ts' ? 'js' : 'ts'}`);
    const hint = isFile(other) ? `; there is ${relative(dir, other)} — did you mean that?` : '';
    const shown = isAbsolute(entry.module) ? entry.module : `${entry.module} (${full})`;
    const kind = kindOf(full);
    out.error(['processors', name, 'module'], kind === undefined
      ? `processors.${name}.module: file not found: ${shown}${hint}`
      : `processors.${name}.module: ${shown} is ${kind}, not a file; point module at the processor's source file${hint}`);
  }
  return paths;
}

/** Loads each module (the loader `run` uses) and checks its default export is a processor. */
export async function checkModuleExports(paths: Map<string, string>, out: DiagnosticList): Promise<void> {
  for (const [name, full] of paths) {
    const result = await loadProcessorModule(full);
    if (!result.ok) out.error(['processors', name, 'module'], `processors.${name}.module: ${result.problem}`);
  }
}
