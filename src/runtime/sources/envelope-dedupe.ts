import { DedupeWindow } from '../../journal/index.js';
import type { SourceSpec } from '../../topology/types.js';
import type { PipelineStats } from '../coordinator/pipeline-stats.js';

/**
 * Drops records whose envelope id was seen recently on the same source
 * (`dedupe: { window: N }`), counting them as the source's `duplicates`.
 * An upstream walrus-stream pipeline derives output ids deterministically,
 * so what it writes again after a crash (its in-flight window) carries the
 * same ids; a window larger than that upstream window catches them all.
 * The window lives in memory: it starts empty after a restart.
 */
export class SourceDedupe {
  readonly #windows = new Map<string, DedupeWindow | null>();
  readonly #stats: PipelineStats;

  constructor(stats: PipelineStats) {
    this.#stats = stats;
  }

  /** True when `id` is a duplicate on `spec`'s source (always false without a window). */
  seen(spec: SourceSpec, id: string): boolean {
    let window = this.#windows.get(spec.name);
    if (window === undefined) {
      window = spec.dedupe?.window > 0 ? new DedupeWindow({ maxIds: spec.dedupe.window }) : null;
      this.#windows.set(spec.name, window);
    }
    if (window === null || !window.seen(id)) return false;
    const counts = this.#stats.source(spec.name, spec.topic);
    counts.duplicates = (counts.duplicates ?? 0) + 1;
    return true;
  }
}
