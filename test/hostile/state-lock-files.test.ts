import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueStore } from '../../src/state/index.js';
import { Journal } from '../../src/journal/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { tempDir } from '../state/helpers.js';

// What sits where a store's or a journal's LOCK, or a store's directory, should be. Before: a directory named
// LOCK failed `KeyValueStore.open` and `Journal.open` with a bare "EISDIR: illegal operation on a directory,
// read" (no code, no store, no path), and a file in place of the store's directory with a bare "EEXIST: file
// already exists, mkdir ..." (no code, no store).

test('a directory in place of a store\'s LOCK: STATE_STORE_ERROR naming the store, the file and what to do; nothing else touched', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  await mkdir(join(dir, 'LOCK'));
  await assert.rejects(KeyValueStore.open({ dir, name: 'locked', fsync: 'never' }), (e) => e instanceof WalrusError && e.code === 'STATE_STORE_ERROR'
    && e.message.startsWith(`cannot take the lock file ${join(dir, 'LOCK')} of store "locked": EISDIR`)
    && /LOCK must be a regular file holding the pid of the process that has the store open: move what is there aside/.test(e.message));
  assert.deepEqual(await readdir(dir), ['LOCK']);
});

test('a file in place of a store\'s directory: STATE_STORE_ERROR naming the store and the path', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const path = join(dir, 'store');
  await writeFile(path, 'not a directory');
  await assert.rejects(KeyValueStore.open({ dir: path, name: 'filed', fsync: 'never' }), (e) => e instanceof WalrusError && e.code === 'STATE_STORE_ERROR'
    && e.message.startsWith(`cannot create the directory of store "filed", ${path}: EEXIST`) && /it must be a directory \(or a link to one\)/.test(e.message));
});

test('a directory in place of a journal\'s LOCK: JOURNAL_ERROR naming the file and what to do', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  await mkdir(join(dir, 'LOCK'));
  await assert.rejects(Journal.open({ dir, fsync: 'never' }), (e) => e instanceof WalrusError && e.code === 'JOURNAL_ERROR'
    && e.message.startsWith(`cannot take the journal's lock file ${join(dir, 'LOCK')}: EISDIR`)
    && /move what is there aside and start again/.test(e.message));
  assert.deepEqual(await readdir(dir), ['LOCK'], 'no segment created');
});

test('a store and a journal still lock and reopen as before', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await KeyValueStore.open({ dir: join(dir, 's'), name: 'fine', fsync: 'never' });
  await assert.rejects(KeyValueStore.open({ dir: join(dir, 's'), name: 'fine', fsync: 'never' }), /is already open in this process/);
  await store.close();
  await (await KeyValueStore.open({ dir: join(dir, 's'), name: 'fine', fsync: 'never' })).close();
  const journal = await Journal.open({ dir: join(dir, 'j'), fsync: 'never' });
  await assert.rejects(Journal.open({ dir: join(dir, 'j'), fsync: 'never' }), /is already open in this process/);
  await journal.close();
});
