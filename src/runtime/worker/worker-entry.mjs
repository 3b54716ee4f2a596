// piscina's entry for every worker thread. Built (dist/), the framework is
// plain JavaScript and this file sits next to task-handler.js: no loader is
// registered here, and a user's TypeScript processor registers tsx itself
// when it is loaded (src/processor/loader.ts). From a source checkout (tests
// run src/ through tsx) the handler is TypeScript, and a worker does not
// always inherit the parent's loader hooks, so tsx is registered first.
import { existsSync } from 'node:fs';

const compiled = new URL('./task-handler.js', import.meta.url);
let worker;
if (existsSync(compiled)) {
  worker = await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  worker = await import('./task-handler.ts');
}

export default worker.default;
