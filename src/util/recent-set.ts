/**
 * A Set that keeps only its `max` most recently added values (the oldest
 * goes first). The worker pool remembers thread ids — ended for a deadline,
 * recycled, counted as dead — only for the tasks that may still settle
 * shortly after their thread ended; a long run replacing threads by the
 * thousand (`recycleAfterTasks: 1`, a processor crashing now and then) must
 * not keep every id it ever saw.
 */
export class RecentSet<T> extends Set<T> {
  readonly #max: number;

  constructor(max = 4096) {
    super();
    this.#max = max;
  }

  override add(value: T): this {
    if (this.has(value)) return this;
    super.add(value);
    if (this.size > this.#max) this.delete(this.values().next().value as T);
    return this;
  }
}
