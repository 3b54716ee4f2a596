import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

let loaded: typeof PromClient | undefined;

/**
 * prom-client, loaded when the first MetricsHub is made rather than with the
 * package: the package entry exports MetricsHub, and every worker thread
 * imports the entry (a processor's `import 'walrus-stream'`) without ever
 * making a hub. prom-client is CommonJS, so `require` gives the very module
 * an `import` would.
 */
export function promClient(): typeof PromClient {
  loaded ??= createRequire(import.meta.url)('prom-client') as typeof PromClient;
  return loaded;
}
