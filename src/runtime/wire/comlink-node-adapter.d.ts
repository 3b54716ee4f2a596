// comlink ships its Node adapter as an ESM file without a `.d.mts` beside
// it, so NodeNext resolution cannot type it; this declares the one function.
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';
  import type { MessagePort } from 'node:worker_threads';
  export default function nodeEndpoint(port: MessagePort): Endpoint;
}
