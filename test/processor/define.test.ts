import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineProcessor, isProcessor, NonRetriableError, PROCESSOR_BRAND } from '../../src/processor/index.js';
import { WalrusError, serializeError } from '../../src/errors/index.js';

test('defineProcessor brands the definition so isProcessor recognises it', () => {
  const p = defineProcessor({ process: (r) => r.value });
  assert.equal(p[PROCESSOR_BRAND], true);
  assert.equal(isProcessor(p), true);
  assert.equal(isProcessor({ process: () => 1 }), false);
  assert.ok(Object.isFrozen(p));
});

test('defineProcessor rejects a definition without process or with non-function hooks', () => {
  assert.throws(() => defineProcessor({} as never), /process\(record, ctx\)/);
  assert.throws(() => defineProcessor({ process: () => 1, init: 5 } as never), /"init" must be a function/);
});

test('NonRetriableError is a WalrusError with code NON_RETRIABLE that stays non-retriable as data', () => {
  const error = new NonRetriableError('amount is negative');
  assert.ok(error instanceof WalrusError);
  assert.equal(error.code, 'NON_RETRIABLE');
  assert.equal(error.retriable, false);
  const data = serializeError(error);
  assert.equal(data.code, 'NON_RETRIABLE');
  assert.equal(data.retriable, false);
  assert.equal(data.name, 'NonRetriableError');
});

test('the third type parameter types ctx.config (tsc checks this file with the suite: npm test fails on a type error)', () => {
  const scaled = defineProcessor<{ n: number }, number, { factor: number }>({ process: (record, ctx) => record.value.n * ctx.config.factor });
  const untyped = defineProcessor<{ n: number }, number>({
    // @ts-expect-error without the parameter a config field is unknown, so arithmetic on it does not compile
    process: (record, ctx) => record.value.n * ctx.config.factor,
  });
  const ctx = { config: Object.freeze({ factor: 3 }) } as never;
  assert.equal(scaled.process({ value: { n: 2 } } as never, ctx), 6);
  assert.equal(untyped.process({ value: { n: 2 } } as never, ctx), 6);
});
