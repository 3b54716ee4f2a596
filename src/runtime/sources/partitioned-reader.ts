import { ownedPartitions, partitionTopic } from '../../codec/partitioning.js';
import type { SourceSpec } from '../../topology/types.js';
import type { FetchedBatch, SourceReader } from '../pipeline/pipeline-io.js';

/** Which instance of how many this process is (`run --instance i --instances n`). */
export interface InstanceAssignment {
  instance: number;
  instances: number;
}

/**
 * The Walrus topics of a source this instance reads (docs/scaling.md): of a
 * partitioned source, the partitions `p` with `p % instances === instance`;
 * an unpartitioned source is one shared topic, read by every instance (the
 * node hands each entry to one of them, as before partitions existed).
 */
export function ownedTopics(spec: SourceSpec, assignment: InstanceAssignment | undefined): string[] {
  if (spec.partitions <= 1) return [spec.topic];
  const owned = assignment === undefined ? Array.from({ length: spec.partitions }, (_, p) => p) : ownedPartitions(spec.partitions, assignment.instance, assignment.instances);
  return owned.map((p) => partitionTopic(spec.topic, p, spec.partitions));
}

/**
 * One reader over several partition topics. A fetch tries them in turn from
 * where the last non-empty one left off and returns the first batch with
 * entries, so a busy partition cannot starve the others, and an empty batch
 * means every owned partition was empty (the pipeline's idle test relies on
 * that). Each batch comes from one partition, so its lease and its order
 * are that partition's, and it names that partition's topic (`topic`).
 */
export function partitionedReader(topics: string[], open: (topic: string) => SourceReader): SourceReader {
  if (topics.length === 1) return open(topics[0]!);
  const readers = topics.map(open);
  let next = 0;
  return {
    async fetch(maxEntries: number, maxBytes: number): Promise<FetchedBatch> {
      if (readers.length === 0) return { entries: [] };
      for (let tried = 0; tried < readers.length; tried += 1) {
        const at = (next + tried) % readers.length;
        const batch = await readers[at]!.fetch(maxEntries, maxBytes);
        if (batch.entries.length > 0) {
          next = (at + 1) % readers.length;
          return { entries: batch.entries, ...(batch.ack ? { ack: () => batch.ack!() } : {}), topic: topics[at]! };
        }
      }
      return { entries: [] };
    },
  };
}
