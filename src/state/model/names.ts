import { WalrusError } from '../../errors/index.js';

// Names in the state layer, apart from the value codec: topology validation
// checks store names and the window DSL builds scoped keys, and neither must
// load msgpackr (and its native addon) to do so: `validate` and a processor
// module importing `walrus-stream/processor` start faster without it.

/** Separates a record key from the sub-keys a processor keeps under it (`cust-1@2026-01-01`). */
export const SCOPE_SEPARATOR = '@';

/** App names scope local state (`<stateDir>/<app>/`): one directory name, never `.`, `..` or a path. */
export const APP_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** The longest app name: a file name's limit on Linux and macOS (255 bytes). */
export const MAX_APP_NAME = 255;

/** Store names become a directory and part of a topic name, so they use the topic alphabet minus `:`. */
export const STORE_NAME_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

export function assertStoreName(name: string): void {
  if (!STORE_NAME_PATTERN.test(name) || name === '.' || name === '..') {
    throw new WalrusError('STATE_STORE_ERROR', `invalid store name "${name}": use 1-100 characters from A-Z a-z 0-9 . _ - (it names a directory and the changelog topic)`, {
      context: { store: name },
    });
  }
}
