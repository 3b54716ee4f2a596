export { KeyValueStore, type KeyValueStoreOptions } from './key-value-store.js';
export { StagedChange } from './staged-change.js';
export { ChangeSet, SCOPE_SEPARATOR, type StateReader, type StateStoreView, type WireWrites } from './change-set.js';
export type { RangeOptions, StateEntry } from './range.js';
export { storeDir, STORE_FILES } from './paths.js';
export { MAX_KEY_BYTES, MAX_VALUE_BYTES, STORE_NAME_PATTERN } from './codec.js';
export { changelogTopic, encodeChangelogEntries, decodeChangelogEntry, CHANGELOG_PREFIX, MAX_CHANGELOG_ENTRY_CHARS } from './changelog-codec.js';
export type { ChangelogOptions } from './changelog-publisher.js';
export type { ChangelogFetch, RestoreReport } from './restore.js';
