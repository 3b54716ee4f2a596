import { MAX_PARTITIONS, partitionTopics } from '../../codec/partitioning.js';
import { topicProblem } from '../../protocol/index.js';
import type { DiagnosticList } from './diagnostics.js';
import { isRecord } from './references.js';
import type { Path } from './source-map.js';

/**
 * Partitioned topics (`partitions: n`, docs/scaling.md) are `n` Walrus topics
 * `<topic>.p<i>`. Those names are derived, so nothing else stops them from
 * being a topic the topology names elsewhere (`orders` in 2 partitions and a
 * sink writing `orders.p1`): two logical topics would then share entries.
 * This check reports such collisions, derived names the protocol would refuse,
 * and one logical topic given different partition counts in two places.
 */

interface TopicUse {
  /** `sources.orders`, `stores.totals (changelog)`… for messages. */
  label: string;
  topic: string;
  partitions: number;
  /** Where an error about this use points. */
  at: Path;
  /** A name the topology does not write (a default changelog): no schema check has seen it. */
  derived?: true;
}

export function checkPartitions(raw: Record<string, unknown>, out: DiagnosticList): void {
  const uses = topicUses(raw);
  const physical = new Map<string, TopicUse>();
  for (const use of uses) {
    for (const name of partitionTopics(use.topic, use.partitions)) {
      const problem = use.partitions > 1 || use.derived ? topicProblem(name) : undefined;
      if (problem !== undefined) {
        const fix = use.derived ? `it is <app>-<store>-changelog by default: set changelog to a shorter topic${use.partitions > 1 ? ', use fewer partitions' : ''} or shorten the app or store name`
          : 'use a shorter topic or fewer partitions';
        // A default changelog of one partition is reported at the store's name (its value may be `{}`).
        out.error(use.at, `${use.label}: ${use.partitions > 1 ? 'partition ' : ''}topic "${name}" is invalid (${problem}); ${fix}`, { preferKey: use.at.length === 2 });
        break;
      }
      const other = physical.get(name);
      if (other === undefined) physical.set(name, use);
      else if (other.topic !== use.topic && (use.partitions > 1 || other.partitions > 1)) {
        out.error(use.at, `${use.label}: Walrus topic "${name}" is ${describe(use, name)}, but it is also ${describe(other, name)} in ${other.label}; rename one of the topics`);
      }
    }
  }
  const counts = new Map<string, TopicUse>();
  for (const use of uses) {
    const first = counts.get(use.topic);
    if (first === undefined) counts.set(use.topic, use);
    else if (first.partitions !== use.partitions) {
      out.error(use.at, `${use.label}: topic "${use.topic}" has ${use.partitions} partition(s) here but ${first.partitions} in ${first.label}; every use of a topic must give the same partitions`);
    }
  }
}

function describe(use: TopicUse, name: string): string {
  return use.partitions > 1 && name !== use.topic ? `a partition of "${use.topic}" (${use.partitions} partitions)` : `the topic "${use.topic}"`;
}

/** Every topic the topology names, with its partition count and where it is written. */
function topicUses(raw: Record<string, unknown>): TopicUse[] {
  const uses: TopicUse[] = [];
  for (const section of ['sources', 'sinks'] as const) {
    const entries = isRecord(raw[section]) ? raw[section] : {};
    for (const [name, entry] of Object.entries(entries)) {
      if (!isRecord(entry) || typeof entry.topic !== 'string') continue;
      const n = countOf(entry.partitions);
      uses.push({ label: `${section}.${name}`, topic: entry.topic, partitions: n, at: [section, name, n > 1 ? 'partitions' : 'topic'] });
    }
  }
  const app = typeof raw.app === 'string' ? raw.app : undefined;
  const stores = isRecord(raw.stores) ? raw.stores : {};
  for (const [name, entry] of Object.entries(stores)) {
    const explicit = isRecord(entry) && typeof entry.changelog === 'string' ? entry.changelog : undefined;
    const topic = explicit ?? (app === undefined ? undefined : `${app}-${name}-changelog`);
    if (topic === undefined) continue;
    const n = isRecord(entry) ? countOf(entry.partitions) : 1;
    const at: Path = n > 1 ? ['stores', name, 'partitions'] : explicit === undefined ? ['stores', name] : ['stores', name, 'changelog'];
    uses.push({ label: `stores.${name} (changelog)`, topic, partitions: n, at, ...(explicit === undefined ? { derived: true as const } : {}) });
  }
  const processors = isRecord(raw.processors) ? raw.processors : {};
  for (const [name, entry] of Object.entries(processors)) {
    if (isRecord(entry) && typeof entry.deadLetter === 'string') {
      uses.push({ label: `processors.${name}.deadLetter`, topic: entry.deadLetter, partitions: 1, at: ['processors', name, 'deadLetter'] });
    }
  }
  return uses;
}

/** A valid partition count, or 1 (an invalid one is reported by the schema). */
function countOf(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_PARTITIONS ? value : 1;
}
