// Entry of the worker thread that imports one processor module for
// `validate`. Built (dist/), the task is plain JavaScript next to this file
// and the processor loader registers tsx itself for a TypeScript processor
// (src/processor/loader.ts). From a source checkout the task is TypeScript,
// and a worker does not see the loader the parent registered, so tsx is
// registered first.
import { existsSync } from 'node:fs';

const compiled = new URL('./module-check-task.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./module-check-task.ts');
}
