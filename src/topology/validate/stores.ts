import { STORE_NAME_PATTERN } from '../../state/model/names.js';
import type { DiagnosticList } from './diagnostics.js';
import { isRecord } from './references.js';
import { reserved } from './semantics.js';
import { didYouMean } from './suggest.js';

/**
 * The checks on `stores:` a schema cannot express: store names that are also
 * directory and topic names, references from processors' `stores: [...]`
 * (unknown → did-you-mean), the key-ordering rule for stateful processors,
 * and changelog topics that would collide with sources or with each other.
 */
export function checkStores(raw: Record<string, unknown>, out: DiagnosticList): void {
  const stores = isRecord(raw.stores) ? raw.stores : {};
  const names = Object.keys(stores);
  const app = typeof raw.app === 'string' ? raw.app : undefined;
  for (const name of names) {
    if (name === '__proto__') out.error(['stores', name], `stores: ${reserved('store')}`, { preferKey: true });
    else if (!STORE_NAME_PATTERN.test(name) || name === '.' || name === '..') {
      out.error(['stores', name], `stores: invalid store name "${name}": use 1-100 of A-Z a-z 0-9 . _ - (it names a directory and a topic)`, { preferKey: true });
    }
  }
  checkChangelogTopics(raw, stores, app, out);
  const processors = isRecord(raw.processors) ? raw.processors : {};
  for (const [name, entry] of Object.entries(processors)) {
    if (!isRecord(entry) || !Array.isArray(entry.stores)) continue;
    const seen = new Set<string>();
    entry.stores.forEach((store: unknown, i: number) => {
      if (typeof store !== 'string') return;
      const at = ['processors', name, 'stores', i];
      if (!Object.hasOwn(stores, store)) {
        const declared = names.length === 0 ? 'no stores are declared (add a top-level "stores:" section)' : `declared stores: ${names.join(', ')}`;
        out.error(at, `processors.${name}.stores: unknown store "${store}"${didYouMean(store, names)}; ${declared}`);
      } else if (seen.has(store)) out.error(at, `processors.${name}.stores: store "${store}" is listed twice`);
      seen.add(store);
    });
    // An aggregate step implies key ordering (aggregate.ts checks its `stores`).
    if (entry.stores.length > 0 && entry.ordering !== 'key' && !Object.hasOwn(entry, 'aggregate')) {
      const where = entry.ordering === undefined ? ['processors', name] : ['processors', name, 'ordering'];
      out.error(where, `processors.${name}: a processor with state stores must use "ordering: key" (two records of one key must never see the store at once), got ${entry.ordering === undefined ? 'the default "unordered"' : JSON.stringify(entry.ordering)}`,
        { preferKey: entry.ordering === undefined });
    }
  }
}

/** A Walrus read consumes entries: a source reading a changelog would eat the state a restore needs. */
function checkChangelogTopics(raw: Record<string, unknown>, stores: Record<string, unknown>, app: string | undefined, out: DiagnosticList): void {
  const sourceTopics = new Map<string, string>();
  if (isRecord(raw.sources)) {
    for (const [name, s] of Object.entries(raw.sources)) if (isRecord(s) && typeof s.topic === 'string') sourceTopics.set(s.topic, name);
  }
  const owners = new Map<string, string>();
  for (const [name, entry] of Object.entries(stores)) {
    const explicit = isRecord(entry) && typeof entry.changelog === 'string' ? entry.changelog : undefined;
    const topic = explicit ?? (app === undefined ? undefined : `${app}-${name}-changelog`);
    if (topic === undefined) continue;
    const at = explicit === undefined ? ['stores', name] : ['stores', name, 'changelog'];
    const source = sourceTopics.get(topic);
    if (source !== undefined) {
      out.error(at, `stores.${name}: changelog topic "${topic}" is read by source "${source}"; a read removes entries, so the store could no longer be restored — use another topic`, { preferKey: explicit === undefined });
    }
    const other = owners.get(topic);
    if (other !== undefined) out.error(at, `stores.${name}: changelog topic "${topic}" is also the changelog of store "${other}"; each store needs its own`, { preferKey: explicit === undefined });
    owners.set(topic, name);
  }
}
