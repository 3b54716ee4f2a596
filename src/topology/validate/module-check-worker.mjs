// Entry of the worker thread that imports one processor module for
// `validate`. TypeScript modules need tsx's loader registered in this thread
// (a worker does not see the loader `bin/walrus-stream.js` registered).
import { register } from 'tsx/esm/api';

register();
await import('./module-check-task.ts');
