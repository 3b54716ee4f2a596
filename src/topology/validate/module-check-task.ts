import { parentPort, workerData } from 'node:worker_threads';
import { loadProcessorModule } from '../../processor/loader.js';

/** What the module check thread reports for one module. */
export type ModuleCheckResult = { ok: true } | { ok: false; message: string };
/** Messages of the module check thread: `started` once it is about to import, then the result. */
export type ModuleCheckMessage = ModuleCheckResult | { started: true };

/**
 * Loads the module with the runtime's own loader, so `validate` accepts
 * exactly what `run` accepts, with the loader's own words for a failure.
 */
async function check(modulePath: string): Promise<ModuleCheckResult> {
  const result = await loadProcessorModule(modulePath);
  return result.ok ? { ok: true } : { ok: false, message: result.problem };
}

// The import's time limit starts now, not while this thread (and tsx) start up.
parentPort!.postMessage({ started: true });
parentPort!.postMessage(await check((workerData as { modulePath: string }).modulePath));
