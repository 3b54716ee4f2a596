// piscina's entry for every worker thread. Built (dist/), the framework is
// plain JavaScript and this file sits next to task-handler.js: no loader is
// registered here, and a user's TypeScript processor registers tsx itself
// when it is loaded (src/processor/loader.ts). From a source checkout (tests
// run src/ through tsx) the handler is TypeScript, and a worker does not
// always inherit the parent's loader hooks, so tsx is registered first.
//
// `npm test` (scripts/run-tests.mjs) builds dist/ from these sources before
// the tests, then sets WALRUS_STREAM_TEST_WORKER=built: its worker threads
// run that build, the code users run, instead of loading every source file
// through tsx's hooks in each thread (about 0.5 s of CPU per thread, and the
// suite starts hundreds). A test file run on its own keeps the sources.
import { existsSync } from 'node:fs';

const compiled = new URL('./task-handler.js', import.meta.url);
const built = new URL('../../../dist/esm/runtime/worker/worker-entry.mjs', import.meta.url);
let worker;
if (existsSync(compiled)) {
  worker = await import(compiled.href);
} else if (process.env.WALRUS_STREAM_TEST_WORKER === 'built' && existsSync(built)) {
  worker = await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  worker = await import('./task-handler.ts');
}

export default worker.default;
