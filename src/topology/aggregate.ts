import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DiagnosticList } from './validate/diagnostics.js';
import { isRecord } from './validate/references.js';
import { AGGREGATE_OPS, MAX_WINDOWS_PER_RECORD, type ParsedAggregate } from './schema/schema-aggregate.js';
import { closest, didYouMean } from './validate/suggest.js';
import type { AggregateSpec } from './types.js';
import { formatDuration, parseDuration } from './units.js';

/**
 * Declarative aggregation steps (`processors.<name>.aggregate`): the checks
 * that span keys or sections, and the normalised spec the built-in processor
 * (`src/processor/builtin/aggregate.ts`) receives as its `config`. Works on
 * the raw value like `semantics.ts`, so shape errors (reported by the schema)
 * and these are all reported in one run; a check only speaks when the values
 * it compares are individually valid.
 */

/** What `module` reads as for an aggregate step (graph, logs). */
export const BUILTIN_AGGREGATE_MODULE = 'builtin:aggregate';

/** Absolute path of the built-in module, with this file's extension (`.ts` from source, `.js` if compiled). */
export function builtinAggregatePath(): string {
  const ext = extname(fileURLToPath(import.meta.url)) || '.ts';
  return fileURLToPath(new URL(`../processor/builtin/aggregate${ext}`, import.meta.url));
}

const LATE_KEYWORDS = ['dlq', 'drop'];

/** A raw duration the schema accepts, in ms; undefined when it is not one (the schema reports it). */
function ms(value: unknown): number | undefined {
  if (typeof value !== 'number' && typeof value !== 'string') return undefined;
  if (typeof value === 'number' && value < 0) return undefined;
  return parseDuration(value);
}

function isOp(value: unknown): value is (typeof AGGREGATE_OPS)[number] {
  return typeof value === 'string' && (AGGREGATE_OPS as readonly string[]).includes(value);
}

/** Every cross-key rule of aggregate steps, and `module` vs `aggregate`. */
export function checkAggregates(raw: Record<string, unknown>, out: DiagnosticList): void {
  const processors = isRecord(raw.processors) ? raw.processors : {};
  const stores = isRecord(raw.stores) ? raw.stores : {};
  const storeNames = Object.keys(stores);
  // Which processors use each store (through `stores:` or `aggregate.store`).
  const users = new Map<string, string[]>();
  const use = (store: string, processor: string): void => {
    const list = users.get(store) ?? [];
    if (!list.includes(processor)) list.push(processor);
    users.set(store, list);
  };
  for (const [name, entry] of Object.entries(processors)) {
    if (!isRecord(entry)) continue;
    if (Array.isArray(entry.stores)) for (const s of entry.stores) if (typeof s === 'string') use(s, name);
    if (isRecord(entry.aggregate) && typeof entry.aggregate.store === 'string') use(entry.aggregate.store, name);
  }

  for (const [name, entry] of Object.entries(processors)) {
    if (!isRecord(entry)) continue;
    const hasModule = Object.hasOwn(entry, 'module');
    const hasAggregate = Object.hasOwn(entry, 'aggregate');
    if (!hasModule && !hasAggregate) {
      out.error(['processors', name], `missing required key "module" in processors.${name}`, { preferKey: true });
      continue;
    }
    if (!hasAggregate) continue;
    const P = `processors.${name}`;
    if (hasModule) {
      out.error(['processors', name, 'aggregate'], `${P}: "module" and "aggregate" are mutually exclusive — an aggregate step runs a built-in processor; remove "module", or remove "aggregate" to run the module`, { preferKey: true });
    }
    const agg = entry.aggregate;
    if (!isRecord(agg)) continue;
    const at = (...path: PropertyKey[]) => ['processors', name, 'aggregate', ...path];

    if (Object.hasOwn(entry, 'config')) {
      out.error(['processors', name, 'config'], `${P}.config: an aggregate step takes no config — its settings are the keys of "aggregate"; remove config`, { preferKey: true });
    }
    if (entry.ordering === 'unordered') {
      out.error(['processors', name, 'ordering'], `${P}.ordering: an aggregate step keeps its state per key and always runs in "ordering: key"; remove ordering (or write key)`);
    }
    const store = typeof agg.store === 'string' && agg.store !== '' ? agg.store : undefined;
    if (Array.isArray(entry.stores) && !(entry.stores.length === 1 && entry.stores[0] === store)) {
      out.error(['processors', name, 'stores'], `${P}.stores: an aggregate step uses exactly its aggregate.store${store === undefined ? '' : ` ("${store}")`}; remove stores`, { preferKey: true });
    }
    if (store !== undefined) {
      if (!Object.hasOwn(stores, store)) {
        const declared = storeNames.length === 0 ? 'no stores are declared: add a top-level "stores:" section' : `declared stores: ${storeNames.join(', ')}`;
        out.error(at('store'), `${P}.aggregate.store: unknown store "${store}"${didYouMean(store, storeNames)}; ${declared} (e.g. stores: { ${store}: {} })`);
      } else {
        const others = (users.get(store) ?? []).filter((p) => p !== name);
        if (others.length > 0) {
          out.error(at('store'), `${P}.aggregate.store: store "${store}" is also used by processor${others.length === 1 ? '' : 's'} ${others.map((o) => `"${o}"`).join(', ')}; an aggregate step needs a store of its own (its entries have a fixed layout) — declare another store`);
        }
      }
    }

    const op = isOp(agg.op) ? agg.op : undefined;
    if (op === 'count' && Object.hasOwn(agg, 'field')) {
      out.error(at('field'), `${P}.aggregate.field: op "count" counts records and reads no field; remove field (or use sum, min, max, avg, first or last to read it)`, { preferKey: true });
    }
    if (op !== undefined && op !== 'count' && !Object.hasOwn(agg, 'field')) {
      const what = op === 'first' || op === 'last' ? `whose ${op} value to keep` : op === 'avg' ? 'to average' : `to take the ${op} of`;
      out.error(at('op'), `${P}.aggregate: op "${op}" needs "field", the value field ${what} — e.g. field: totalEur (a dotted path such as order.totalEur works too)`);
    }

    const windowed = isRecord(agg.window);
    if (windowed) checkWindow(agg.window as Record<string, unknown>, P, at, out);
    if (agg.emit === 'close' && !windowed) {
      out.error(at('emit'), `${P}.aggregate.emit: "close" needs a window — results are emitted when windows close; add window: { tumbling: 1m }, or use emit: update (the default without a window)`);
    }
    if (Object.hasOwn(agg, 'late') && !windowed) {
      out.error(at('late'), `${P}.aggregate.late: only a windowed step has late records; remove late, or add a window`, { preferKey: true });
    }
    checkOutputs(name, entry, agg, windowed, at, out);
  }
}

function checkWindow(win: Record<string, unknown>, P: string, at: (...p: PropertyKey[]) => PropertyKey[], out: DiagnosticList): void {
  const tumbling = Object.hasOwn(win, 'tumbling');
  const hopping = Object.hasOwn(win, 'hopping');
  if (tumbling && hopping) {
    out.error(at('window', 'hopping'), `${P}.aggregate.window: give either "tumbling" or "hopping", not both`, { preferKey: true });
  } else if (!tumbling && !hopping && !Object.keys(win).some((k) => closest(k, ['tumbling', 'hopping']) !== undefined)) {
    // (A misspelt size is reported once, as the unknown key with its did-you-mean.)
    out.error(at('window'), `${P}.aggregate.window: the window has no size — add "tumbling: 1m" (back-to-back windows) or "hopping: { size: 1m, advance: 10s }" (overlapping ones)`, { preferKey: true });
  }
  if (!isRecord(win.hopping)) return;
  const size = ms(win.hopping.size);
  const advance = ms(win.hopping.advance);
  if (size === undefined || advance === undefined || size <= 0 || advance <= 0) return;
  if (advance > size) {
    out.error(at('window', 'hopping', 'advance'), `${P}.aggregate.window.hopping.advance: advance (${formatDuration(advance)}) must not exceed size (${formatDuration(size)}) — records between two windows would be counted in none; use a smaller advance, or a tumbling window`);
  } else if (Math.ceil(size / advance) > MAX_WINDOWS_PER_RECORD) {
    out.error(at('window', 'hopping', 'advance'), `${P}.aggregate.window.hopping.advance: with size ${formatDuration(size)} and advance ${formatDuration(advance)} every record falls in ${Math.ceil(size / advance)} windows, over the limit of ${MAX_WINDOWS_PER_RECORD}; use an advance of at least ${formatDuration(Math.ceil(size / MAX_WINDOWS_PER_RECORD))}`);
  }
}

/** An aggregate step emits results to `default` and late records to its late output, nowhere else. */
function checkOutputs(name: string, entry: Record<string, unknown>, agg: Record<string, unknown>, windowed: boolean, at: (...p: PropertyKey[]) => PropertyKey[], out: DiagnosticList): void {
  const P = `processors.${name}`;
  const declared = Array.isArray(entry.outputs) ? entry.outputs.filter((o): o is string => typeof o === 'string') : undefined;
  const late = typeof agg.late === 'string' && agg.late !== '' ? agg.late : undefined;
  const lateOutput = late !== undefined && !LATE_KEYWORDS.includes(late) ? late : undefined;
  if (lateOutput !== undefined && windowed) {
    if (lateOutput === 'default') {
      out.error(at('late'), `${P}.aggregate.late: "default" receives the results; send late records to an output of their own (e.g. late: late with outputs: [default, late]), or use dlq or drop`);
    } else if (declared === undefined || !declared.includes(lateOutput)) {
      const typo = didYouMean(lateOutput, [...LATE_KEYWORDS, ...(declared ?? []).filter((o) => o !== 'default')]);
      out.error(at('late'), `${P}.aggregate.late: "${lateOutput}" is not one of the step's outputs${typo}; late is dlq, drop or an output name — declare it: outputs: [default, ${lateOutput}]`);
    }
  }
  if (declared === undefined) return;
  if (!declared.includes('default')) {
    out.error(['processors', name, 'outputs'], `${P}.outputs: an aggregate step emits its results to "default"; list it: outputs: [default${lateOutput !== undefined && lateOutput !== 'default' ? `, ${lateOutput}` : ''}]`);
  }
  (entry.outputs as unknown[]).forEach((o, i) => {
    if (typeof o !== 'string' || o === 'default' || (o === lateOutput && windowed)) return;
    out.error(['processors', name, 'outputs', i], `${P}.outputs: an aggregate step emits only to "default" and to its late output (aggregate.late); nothing would ever reach "${o}" — remove it${windowed ? `, or set late: ${o}` : ''}`);
  });
}

/** The normalised spec of an aggregate step (only called on a valid topology). */
export function normaliseAggregate(parsed: ParsedAggregate): AggregateSpec {
  const w = parsed.window;
  const window: AggregateSpec['window'] = w === undefined ? null : {
    kind: w.hopping === undefined ? 'tumbling' : 'hopping',
    size: w.hopping?.size ?? w.tumbling!,
    advance: w.hopping?.advance ?? w.tumbling!,
    grace: w.grace,
    time: w.time,
    maxAhead: w.maxAhead ?? null,
  };
  const late: AggregateSpec['late'] = parsed.late === 'dlq' || parsed.late === 'drop' ? parsed.late : { output: parsed.late };
  return {
    store: parsed.store,
    op: parsed.op,
    field: parsed.field ?? null,
    window,
    emit: parsed.emit ?? (window === null ? 'update' : 'close'),
    late,
  };
}

/** `sum(totalEur) by key, tumbling 1m, grace 30s, time field createdAt` — one line for graphs and listings. */
export function describeAggregate(spec: AggregateSpec, { long = false } = {}): string {
  const what = spec.field === null ? `${spec.op} by key` : `${spec.op}(${spec.field}) by key`;
  const w = spec.window;
  const window = w === null ? 'running (no window)' : w.kind === 'tumbling' ? `tumbling ${formatDuration(w.size)}` : `hopping ${formatDuration(w.size)} every ${formatDuration(w.advance)}`;
  if (!long) return `${what}, ${window}`;
  const parts = [what, window];
  if (w !== null) {
    parts.push(`grace ${formatDuration(w.grace)}`);
    parts.push(w.time === 'record' ? 'time record timestamp' : 'field' in w.time ? `time field ${w.time.field}` : `time header ${w.time.header}`);
    if (w.maxAhead !== null) parts.push(`at most ${formatDuration(w.maxAhead)} ahead of the clock`);
  }
  parts.push(`emit on ${spec.emit}`);
  if (w !== null) parts.push(`late → ${typeof spec.late === 'string' ? (spec.late === 'dlq' ? 'dead letters' : 'dropped') : `output ${spec.late.output}`}`);
  parts.push(`store ${spec.store}`);
  return parts.join(', ');
}

