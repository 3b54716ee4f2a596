// piscina's entry for every worker thread. Processor modules may be
// TypeScript, so tsx's ESM loader is registered in this thread first (a
// worker does not always inherit the parent's loader hooks: `node
// bin/walrus-stream.js` registers tsx programmatically, which workers do not
// see). Registering again where `--import tsx` already applies is harmless.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./task-handler.ts');

export default worker.default;
