import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../errors/index.js';
import type { BrokerOptions } from './options.js';
import { startBroker } from './server.js';
import type { FromWorker, ToWorker } from './worker-messages.js';

/**
 * Worker-thread side of `startBrokerInWorker`: runs one embedded node on
 * this thread's event loop, so a busy node does not slow the thread that
 * started it (and vice versa).
 */
const port = parentPort!;
const send = (message: FromWorker): void => port.postMessage(message);

try {
  const node = await startBroker(workerData as BrokerOptions);
  send({ type: 'ready', host: node.host, port: node.port, address: node.address, options: node.options, warnings: node.warnings });
  // Stopped on its own (storage failure): report it, and let the thread end.
  void node.closed.then(() => {
    if (node.failure) {
      send({ type: 'error', error: serializeError(node.failure) });
      port.close();
    }
  });
  port.on('message', (message: ToWorker) => {
    if (message.type === 'stats') {
      send({ type: 'stats', id: message.id, stats: node.stats() });
    } else if (message.type === 'close') {
      node.close().then(
        () => {
          send({ type: 'closed' });
          port.close();
        },
        (error: unknown) => send({ type: 'error', error: serializeError(error) }),
      );
    }
  });
} catch (error) {
  send({ type: 'error', error: serializeError(error) });
  port.close();
}
