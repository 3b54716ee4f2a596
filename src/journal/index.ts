export { Journal } from './journal.js';
export type { JournalItem, JournalStats, UnreleasedEntry } from './journal.js';
export type { JournalCompactionOptions, JournalFsync, JournalOptions, JournalStep } from './options.js';
export { DedupeWindow, keptId, MAX_DEDUPE_IDS, MAX_KEPT_ID_CHARS } from './dedupe-window.js';
export type { DedupeWindowOptions } from './dedupe-window.js';
export { MAX_ENTRY_BYTES, MAX_SOURCE_BYTES } from './record-format.js';
