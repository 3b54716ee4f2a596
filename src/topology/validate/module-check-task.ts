import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { importProcessor } from '../../processor/loader.js';

/** What the module check thread reports for one module. */
export type ModuleCheckResult = { ok: true } | { ok: false; message: string };
/** Messages of the module check thread: `started` once it is about to import, then the result. */
export type ModuleCheckMessage = ModuleCheckResult | { started: true };

function describe(value: unknown): string {
  if (value === undefined) return 'it has no default export';
  if (value === null) return 'its default export is null';
  if (typeof value === 'function') return 'its default export is a function, not a processor definition';
  if (typeof value === 'object') return 'its default export is an object that was not made by defineProcessor';
  return `its default export is ${typeof value}`;
}

/**
 * Imports the module with the runtime's own loader, so `validate` accepts
 * exactly what `run` accepts, and words the failure for a diagnostic.
 */
async function check(modulePath: string): Promise<ModuleCheckResult> {
  try {
    await importProcessor(modulePath);
    return { ok: true };
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    if (cause !== undefined) {
      const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
      return { ok: false, message: `failed to load: ${reason}` };
    }
    // It loaded (cached: importing again runs nothing) but exports no processor.
    const mod = (await import(pathToFileURL(modulePath).href)) as { default?: unknown };
    return { ok: false, message: `${describe(mod.default)}; write \`export default defineProcessor({ process(record, ctx) { ... } })\`` };
  }
}

// The import's time limit starts now, not while this thread (and tsx) start up.
parentPort!.postMessage({ started: true });
parentPort!.postMessage(await check((workerData as { modulePath: string }).modulePath));
