import { Fifo } from '../../util/fifo.js';

/** Who waits: the client's address (turns are taken by it) and whether it has gone (its task is then dropped). */
export interface TaskSource {
  readonly remoteAddress: string;
  readonly gone: boolean;
}

/** What a dropped task's run rejects with. */
export class AbandonedTask extends Error {
  constructor() {
    super('the client went away before its turn');
  }
}

/**
 * Runs at most `max` tasks at once; waiting tasks start round-robin by
 * source (the client's address), so one source that queues hundreds of
 * logins delays another source's login by at most one task per busy source,
 * not by all of them. The node needs no count bound on waiting tasks: a
 * connection waits for one login at a time (it executes nothing else
 * meanwhile), and the task of a connection that closed is dropped when its
 * turn comes, without running, so closing and reconnecting does not queue
 * work either.
 */
export class FairLimit {
  readonly #max: number;
  #running = 0;
  /** Waiting starts by source; a Map keeps insertion order, which is the round-robin order. */
  readonly #waiting = new Map<string, Fifo<{ source: TaskSource; start: () => void; drop: () => void }>>();

  constructor(max: number) {
    this.#max = max;
  }

  run<T>(source: TaskSource, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.#running++;
        // A task that throws synchronously settles like one that rejects.
        void Promise.resolve().then(task).then(resolve, reject).finally(() => {
          this.#running--;
          this.#next();
        });
      };
      if (this.#running < this.#max) {
        start();
        return;
      }
      let queue = this.#waiting.get(source.remoteAddress);
      if (!queue) this.#waiting.set(source.remoteAddress, (queue = new Fifo()));
      queue.push({ source, start, drop: () => reject(new AbandonedTask()) });
    });
  }

  #next(): void {
    for (;;) {
      const first = this.#waiting.entries().next();
      if (first.done === true) return;
      const [address, queue] = first.value;
      const waiting = queue.shift()!;
      // This address goes to the back of the line, or leaves it when it has nothing left.
      this.#waiting.delete(address);
      if (queue.length > 0) this.#waiting.set(address, queue);
      if (!waiting.source.gone) {
        waiting.start();
        return;
      }
      waiting.drop();
    }
  }
}
