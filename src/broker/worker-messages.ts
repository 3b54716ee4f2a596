import type { SerializedError } from '../errors/index.js';
import type { BrokerStats } from './server.js';
import type { ResolvedBrokerOptions } from './options.js';

/** Everything that crosses the worker boundary of `startBrokerInWorker`, in one place. */
export type ToWorker = { type: 'stats'; id: number } | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; host: string; port: number; address: string; options: ResolvedBrokerOptions; warnings: readonly string[] }
  | { type: 'stats'; id: number; stats: BrokerStats }
  | { type: 'closed' }
  | { type: 'error'; error: SerializedError };
