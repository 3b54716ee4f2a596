import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Consumer } from '../../src/client/consumer/consumer.js';
import { Producer } from '../../src/client/producer/producer.js';
import { WalrusError } from '../../src/errors/index.js';

/**
 * Producer and Consumer options are checked like the client's: a typo is an
 * error naming it (before, `{ buffersize: 5 }` silently kept the default of
 * 1,000), seams must be functions and switches booleans (before,
 * `sleep: 5` was accepted and broke the fetch loop at its first empty
 * fetch with an INTERNAL_ERROR "o.sleep is not a function"), and options that
 * are not an object say so (before: "Cannot read properties of null").
 */

const client = { register: async () => undefined, getMany: async () => [], putMany: async () => undefined };

function refused(make: () => unknown, message: RegExp): void {
  assert.throws(make, (e: unknown) => e instanceof WalrusError && e.code === 'CONFIG_INVALID' && message.test(e.message), String(message));
}

test('an unknown Consumer or Producer option (a typo) is refused, naming it and the known ones', () => {
  refused(() => new Consumer(client, { topic: 't', buffersize: 5 } as never), /Unknown Consumer option "buffersize".*bufferSize/);
  refused(() => new Producer(client, { topic: 't', lingr: { maxRecords: 1 } } as never), /Unknown Producer option "lingr".*linger/);
  refused(() => new Producer(client, { topic: 't', linger: { maxWait: 5 } } as never), /Unknown Producer option "linger\.maxWait".*maxWaitMs/);
});

test('seams must be functions and switches booleans', () => {
  refused(() => new Consumer(client, { topic: 't', sleep: 5 } as never), /Consumer option sleep must be a function, got 5/);
  refused(() => new Consumer(client, { topic: 't', now: 'x' } as never), /Consumer option now must be a function/);
  refused(() => new Consumer(client, { topic: 't', stopWhenEmpty: 'yes' } as never), /Consumer option stopWhenEmpty must be true or false, got "yes"/);
  refused(() => new Consumer(client, { topic: 't', register: 0 } as never), /Consumer option register must be true or false/);
  refused(() => new Producer(client, { topic: 't', setTimeout: 1 } as never), /Producer option setTimeout must be a function/);
  refused(() => new Producer(client, { topic: 't', register: 'no' } as never), /Producer option register must be true or false/);
  refused(() => new Producer(client, { topic: 't', linger: 5 } as never), /Producer option linger must be an object/);
});

test('options that are not an object are refused with a clear error', () => {
  for (const options of [null, undefined, 'orders', 5, []]) {
    refused(() => new Consumer(client, options as never), /Consumer options must be an object \{ topic, \.\.\. \}/);
    refused(() => new Producer(client, options as never), /Producer options must be an object \{ topic, \.\.\. \}/);
  }
});

test('valid options still pass, with and without the optional ones', () => {
  assert.ok(new Consumer(client, { topic: 't' }));
  assert.ok(new Consumer(client, { topic: 't', serializer: 'string', bufferSize: 5, maxBufferedBytes: 1024, stopWhenEmpty: true, register: false, now: Date.now, sleep: async () => undefined, onDeserializationError: () => undefined, rateLimit: 0, maxRecords: 3, minPollMs: 1, maxPollMs: 2, maxFetchEntries: 1, maxFetchBytes: 1 }));
  assert.ok(new Producer(client, { topic: 't' }));
  assert.ok(new Producer(client, { topic: 't', serializer: 'json', partitions: 2, format: 'envelope', compression: 'gzip', compressionThreshold: 0, linger: { maxRecords: 1, maxBytes: 10, maxWaitMs: 0 }, maxInFlight: 2, register: true, maxBufferedBytes: 10, now: Date.now, setTimeout, clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) }));
  // Keys present with the value undefined are the same as left out.
  assert.ok(new Consumer(client, { topic: 't', bufferSize: undefined, sleep: undefined }));
});
