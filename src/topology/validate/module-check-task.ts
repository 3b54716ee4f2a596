import { parentPort, workerData } from 'node:worker_threads';
import { loadProcessorModule, prepareTypeScript } from '../../processor/loader.js';

/** What the module check thread reports for one module. */
export type ModuleCheckResult = { ok: true } | { ok: false; message: string };
/** Messages of the module check thread: `started` once it is about to import, then the result. */
export type ModuleCheckMessage = ModuleCheckResult | { started: true };

/** What the thread is started with: its module, or (prestarted) a guess at the TypeScript loader it will need. */
interface CheckData { modulePath?: string; typescript?: 'module' | 'commonjs' }

/**
 * Loads the module with the runtime's own loader, so `validate` accepts
 * exactly what `run` accepts, with the loader's own words for a failure.
 */
async function check(modulePath: string): Promise<ModuleCheckResult> {
  const result = await loadProcessorModule(modulePath);
  return result.ok ? { ok: true } : { ok: false, message: result.problem };
}

const data = workerData as CheckData;
let modulePath = data.modulePath;
if (modulePath === undefined) {
  // Prestarted (isolated-modules.ts): get ready while the parent parses, then wait for the module.
  const ready = data.typescript === undefined ? Promise.resolve() : prepareTypeScript(data.typescript === 'commonjs');
  const [path] = await Promise.all([
    new Promise<string>((resolve) => parentPort!.once('message', (message: { modulePath: string }) => resolve(message.modulePath))),
    ready.catch(() => undefined), // a failure shows again, with its words, when the module is loaded
  ]);
  modulePath = path;
}

// The import's time limit starts now, not while this thread (and tsx) start up.
parentPort!.postMessage({ started: true });
parentPort!.postMessage(await check(modulePath));
