import type { BrokerOptions } from './options.js';
import type { BrokerHandle } from './server.js';
import type { WorkerBrokerHandle } from './worker.js';

/*
 * The package entry's node starters: the node (store, commands, TLS) is
 * imported on the first call, not with the package, which every processor
 * module imports in its worker thread.
 */

/**
 * Starts an embedded Walrus-compatible node and resolves once it listens.
 *
 * @example
 * const node = await startBroker({ port: 0, dataDir: './.walrus' });
 * console.log(node.address); // 127.0.0.1:40123
 * await node.close();
 */
export async function startBroker(options: BrokerOptions = {}): Promise<BrokerHandle> {
  return (await import('./server.js')).startBroker(options);
}

/**
 * Starts an embedded node on a dedicated worker thread, so a pipeline's
 * coordinator and the node do not share one event loop.
 *
 * @example
 * const node = await startBrokerInWorker({ port: 0, dataDir: '.walrus' });
 */
export async function startBrokerInWorker(options: BrokerOptions = {}): Promise<WorkerBrokerHandle> {
  return (await import('./worker.js')).startBrokerInWorker(options);
}
