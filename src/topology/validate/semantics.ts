import { topicProblem } from '../../protocol/index.js';
import type { DiagnosticList } from './diagnostics.js';
import { findCycles } from './cycles.js';
import { checkAggregates } from '../aggregate.js';
import { checkStores } from './stores.js';
import { checkPartitions } from './partitions.js';
import { NAME_RULE, Names, isRecord } from './references.js';
import { NAME_PATTERN } from '../schema/schema-fields.js';
import type { Path } from './source-map.js';
import type { InputRef, OutputRef } from '../types.js';

/**
 * The checks a schema cannot express: names, references between sections,
 * cycles, reachability and dead-letter defaults. Runs on the raw value, next
 * to the schema check, so one run reports everything.
 */

export interface Resolution {
  /** Per processor: canonical references, resolved references and where each is written. */
  inputs: Map<string, { canonical: string[]; refs: InputRef[]; paths: Path[] }>;
  sinkInputs: Map<string, OutputRef>;
  /** Default dead-letter topic of each processor. */
  deadLetters: Map<string, string>;
}

const SECTIONS = ['sources', 'processors', 'sinks'] as const;
const KIND = { sources: 'source', processors: 'processor', sinks: 'sink' } as const;

function refsOf(input: unknown): Array<{ ref: string; path: Path }> {
  if (typeof input === 'string') return [{ ref: input, path: ['input'] }];
  if (Array.isArray(input)) {
    return input.flatMap((r, i) => (typeof r === 'string' ? [{ ref: r, path: ['input', i] }] : []));
  }
  return [];
}

/**
 * "__proto__" passes the name rules, but JavaScript gives it a meaning of its
 * own: a section's entry of that name was dropped without a word (the
 * topology validated "ok" and ran without it). Shared with stores.ts.
 */
export function reserved(what: string): string {
  return `"__proto__" cannot be a${/^[aeiou]/.test(what) ? 'n' : ''} ${what} name: JavaScript reserves it, and the ${what} would be left out without a word; rename it`;
}

function checkNames(raw: Record<string, unknown>, names: Names, out: DiagnosticList): void {
  for (const section of SECTIONS) {
    const entries = raw[section];
    if (!isRecord(entries)) continue;
    for (const name of Object.keys(entries)) {
      if (name === '__proto__') out.error([section, name], `${section}: ${reserved(KIND[section])}`, { preferKey: true });
      else if (!NAME_PATTERN.test(name)) out.error([section, name], `${section}: invalid ${KIND[section]} name "${name}": ${NAME_RULE}`, { preferKey: true });
    }
  }
  for (const name of Object.keys(names.processors)) {
    if (Object.hasOwn(names.sources, name) && name !== '__proto__') {
      out.error(['processors', name], `processors: "${name}" is also the name of a source, so an input "${name}" would be ambiguous; rename one of them`, { preferKey: true });
    }
    const entry = names.processors[name];
    if (isRecord(entry) && isRecord(entry.config) && Object.hasOwn(entry.config, '__proto__')) {
      out.error(['processors', name, 'config', '__proto__'], `processors.${name}.config: "__proto__" cannot be a key of config: JavaScript reserves it, and ctx.config would be without it; rename it`, { preferKey: true });
    }
    const outputs = isRecord(entry) ? entry.outputs : undefined;
    if (!Array.isArray(outputs)) continue;
    const seen = new Set<string>();
    outputs.forEach((output, i) => {
      if (typeof output !== 'string') return;
      const path = ['processors', name, 'outputs', i];
      if (output === '__proto__') out.error(path, `processors.${name}.outputs: ${reserved('output')}`);
      else if (!NAME_PATTERN.test(output)) out.error(path, `processors.${name}.outputs: invalid output name "${output}": ${NAME_RULE}`);
      else if (seen.has(output)) out.error(path, `processors.${name}.outputs: output "${output}" is listed twice`);
      seen.add(output);
    });
  }
}

export function checkSemantics(raw: unknown, out: DiagnosticList): Resolution {
  const resolution: Resolution = { inputs: new Map(), sinkInputs: new Map(), deadLetters: new Map() };
  if (!isRecord(raw)) return resolution;
  const names = new Names(raw);
  checkNames(raw, names, out);
  // When a section is not a mapping its type error is reported; references into it would only add noise.
  if (!isRecord(raw.sources) || !isRecord(raw.processors)) return resolution;
  let unresolved = 0;

  // Processor inputs.
  for (const [name, entry] of Object.entries(names.processors)) {
    if (!isRecord(entry)) continue;
    const resolved = { canonical: [] as string[], refs: [] as InputRef[], paths: [] as Path[] };
    if (typeof entry.input !== 'string' && !Array.isArray(entry.input)) unresolved += 1;
    for (const { ref, path } of refsOf(entry.input)) {
      const result = names.resolve(ref, true, name);
      const at = ['processors', name, ...path];
      if ('skip' in result) unresolved += 1;
      else if ('error' in result) {
        out.error(at, `processors.${name}.input: ${result.error}`);
        unresolved += 1;
      } else if (resolved.canonical.includes(result.canonical)) out.error(at, `processors.${name}.input: "${result.canonical}" is listed twice`);
      else {
        resolved.canonical.push(result.canonical);
        resolved.refs.push(result.ref);
        resolved.paths.push(at);
      }
    }
    resolution.inputs.set(name, resolved);
  }

  // Sink inputs.
  const sinks = isRecord(raw.sinks) ? raw.sinks : {};
  for (const [name, entry] of Object.entries(sinks)) {
    if (!isRecord(entry) || typeof entry.input !== 'string') continue;
    const result = names.resolve(entry.input, false);
    if ('skip' in result) unresolved += 1;
    else if ('error' in result) {
      out.error(['sinks', name, 'input'], `sinks.${name}.input: ${result.error}`);
      unresolved += 1;
    } else if (result.ref.kind === 'processor') resolution.sinkInputs.set(name, { processor: result.ref.name, output: result.ref.output });
  }

  checkTopics(names, sinks, out);
  const inCycle = reportCycles(resolution, out);
  // Reachability is only meaningful when every reference resolved.
  if (unresolved === 0) reportReachability(names, resolution, inCycle, out);
  defaultDeadLetters(names, resolution, out);
  checkStores(raw, out);
  checkPartitions(raw, out);
  checkAggregates(raw, out);
  return resolution;
}

/**
 * A Walrus GET consumes the entry (queue semantics, see docs/architecture.md): two sources
 * on one topic would each see only part of it, and a sink writing a topic a
 * source reads feeds records back into the pipeline.
 */
function checkTopics(names: Names, sinks: Record<string, unknown>, out: DiagnosticList): void {
  const readers = new Map<string, string>();
  for (const name of Object.keys(names.sources)) {
    const topic = names.sourceTopic(name);
    if (topic === undefined) continue;
    const first = readers.get(topic);
    if (first === undefined) readers.set(topic, name);
    else {
      out.error(['sources', name, 'topic'], `sources.${name}.topic: source "${first}" already reads topic "${topic}"; a Walrus read removes the entry, so the two would split its records — use one source and list it in each processor's input`);
    }
  }
  for (const [name, entry] of Object.entries(sinks)) {
    if (!isRecord(entry) || typeof entry.topic !== 'string') continue;
    const reader = readers.get(entry.topic);
    if (reader !== undefined) {
      out.warning(['sinks', name, 'topic'], `sinks.${name}.topic: source "${reader}" reads topic "${entry.topic}", so records written here are processed again (a loop through Walrus)`);
    }
  }
}

function reportCycles(resolution: Resolution, out: DiagnosticList): Set<string> {
  const upstream = new Map<string, string[]>();
  for (const [name, { refs }] of resolution.inputs) {
    upstream.set(name, refs.flatMap((r) => (r.kind === 'processor' ? [r.name] : [])));
  }
  const members = new Set<string>();
  for (const cycle of findCycles(upstream)) {
    // cycle is listed in data-flow order, closing on its first element.
    cycle.slice(0, -1).forEach((m) => members.add(m));
    const first = cycle[0]!;
    const closer = cycle[cycle.length - 2]!;
    const inputs = resolution.inputs.get(first);
    const refIndex = inputs?.refs.findIndex((r) => r.kind === 'processor' && r.name === closer) ?? -1;
    out.error(inputs?.paths[refIndex] ?? ['processors', first, 'input'],
      `processors.${first}.input: cycle ${cycle.join(' → ')}; records would loop forever — break it (write to a topic and read it back with a source if a loop is intended)`);
  }
  return members;
}

function reportReachability(names: Names, resolution: Resolution, inCycle: Set<string>, out: DiagnosticList): void {
  const reached = new Set<string>();
  const readSources = new Set<string>();
  const consumed = new Set<string>();
  for (const { refs } of resolution.inputs.values()) {
    for (const r of refs) {
      if (r.kind === 'source') readSources.add(r.name);
      else consumed.add(`${r.name}.${r.output}`);
    }
  }
  for (const { processor, output } of resolution.sinkInputs.values()) consumed.add(`${processor}.${output}`);
  // A processor is reached when any of its inputs is a source or a reached
  // processor: a walk downstream from the readers of sources. (A fixpoint over
  // all processors took a pass per processor on a chain written bottom-up.)
  const readers = new Map<string, string[]>();
  const pending: string[] = [];
  for (const [name, { refs }] of resolution.inputs) {
    for (const r of refs) {
      if (r.kind === 'source') pending.push(name);
      else if (readers.has(r.name)) readers.get(r.name)!.push(name);
      else readers.set(r.name, [name]);
    }
  }
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (reached.has(name)) continue;
    reached.add(name);
    for (const reader of readers.get(name) ?? []) pending.push(reader);
  }
  for (const [name, entry] of Object.entries(names.sources)) {
    if (isRecord(entry) && !readSources.has(name)) out.warning(['sources', name], `sources.${name}: no processor reads this source`, { preferKey: true });
  }
  for (const [name, entry] of Object.entries(names.processors)) {
    if (!isRecord(entry)) continue;
    if (!reached.has(name) && !inCycle.has(name) && resolution.inputs.has(name)) {
      const empty = (resolution.inputs.get(name)?.refs.length ?? 0) === 0;
      out.warning(['processors', name], `processors.${name}: unreachable — ${empty ? 'its input is empty' : 'no source feeds any of its inputs'}, so it never runs`, { preferKey: true });
    }
    // Only declared outputs: a processor with none may be a terminal one (side effects only).
    if (!Array.isArray(entry.outputs)) continue;
    entry.outputs.forEach((output, i, outputs) => {
      // Once per output: one listed twice is an error of its own, at its second place.
      if (typeof output === 'string' && outputs.indexOf(output) === i && !consumed.has(`${name}.${output}`)) {
        out.warning(['processors', name, 'outputs', i], `processors.${name}.outputs: output "${output}" leads nowhere — no processor or sink reads "${name}.${output}", so records emitted to it are dropped`);
      }
    });
  }
}

/** `<topic of the first upstream source>.dlq`, following inputs in order. */
function defaultDeadLetters(names: Names, resolution: Resolution, out: DiagnosticList): void {
  // Memoised and iterative: a chain of thousands of processors fits in a
  // topology file, and a search from each processor was quadratic and
  // overflowed the call stack. A processor met again while its own search is
  // open (a cycle, an error of its own) is skipped.
  const memo = new Map<string, string | null>();
  const firstTopic = (root: string): string | undefined => {
    const frames = [{ name: root, i: 0 }];
    const open = new Set([root]);
    let found: string | null | undefined;
    const finish = (topic: string | null): void => {
      const { name } = frames.pop()!;
      open.delete(name);
      memo.set(name, topic);
      found = topic;
    };
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      if (typeof found === 'string') { finish(found); continue; }
      found = undefined;
      const refs = resolution.inputs.get(frame.name)?.refs ?? [];
      if (frame.i === refs.length) { finish(null); continue; }
      const r = refs[frame.i++]!;
      const known = r.kind === 'source' ? names.sourceTopic(r.name) ?? null : memo.get(r.name);
      if (typeof known === 'string') finish(known);
      else if (known === undefined && !open.has(r.name)) { frames.push({ name: r.name, i: 0 }); open.add(r.name); }
    }
    return memo.get(root) ?? undefined;
  };
  const sourceTopics = new Map(Object.keys(names.sources).map((s) => [names.sourceTopic(s), s] as const));
  const fedBy = feeders(resolution);
  for (const [name, entry] of Object.entries(names.processors)) {
    if (!isRecord(entry)) continue;
    if (typeof entry.deadLetter === 'string') {
      const source = sourceTopics.get(entry.deadLetter);
      if (source !== undefined) {
        out.error(['processors', name, 'deadLetter'], `processors.${name}.deadLetter: "${entry.deadLetter}" is the topic of source "${source}", so dead letters would be read and fail again; use another topic (e.g. "${entry.deadLetter}.dlq")`);
      }
      continue;
    }
    const upstream = memo.has(name) ? memo.get(name) ?? undefined : firstTopic(name);
    const topic = `${upstream ?? name}.dlq`;
    const problem = topicProblem(topic);
    // An invalid source topic is reported at the topic; only a valid one made too long by ".dlq" is news.
    if (problem !== undefined && (upstream === undefined || topicProblem(upstream) === undefined)) out.error(['processors', name], `processors.${name}: the default dead-letter topic is invalid (${problem}); set deadLetter`, { preferKey: true });
    const loop = sourceTopics.get(topic);
    if (loop !== undefined && fedBy(loop).has(name)) {
      out.error(['processors', name], `processors.${name}: its default dead-letter topic "${topic}" is the topic of source "${loop}", which feeds "${name}", so a record that fails would be dead-lettered into its own input and fail again for ever; set deadLetter to another topic (e.g. "${topic}.dlq")`, { preferKey: true });
    }
    resolution.deadLetters.set(name, topic);
  }
}

/** The processors a source feeds, directly or through other processors; one walk per source asked about. */
function feeders(resolution: Resolution): (source: string) => Set<string> {
  const readers = new Map<string, string[]>();
  for (const [name, { refs }] of resolution.inputs) {
    for (const r of refs) {
      const key = `${r.kind}:${r.name}`;
      if (readers.has(key)) readers.get(key)!.push(name);
      else readers.set(key, [name]);
    }
  }
  const cache = new Map<string, Set<string>>();
  return (source) => {
    let fed = cache.get(source);
    if (fed !== undefined) return fed;
    fed = new Set();
    const pending = [...(readers.get(`source:${source}`) ?? [])];
    while (pending.length > 0) {
      const name = pending.pop()!;
      if (fed.has(name)) continue;
      fed.add(name);
      pending.push(...(readers.get(`processor:${name}`) ?? []));
    }
    cache.set(source, fed);
    return fed;
  };
}
