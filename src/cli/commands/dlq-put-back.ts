import type { WalrusClient } from '../../client/index.js';
import type { Journal } from '../../journal/index.js';

/**
 * Held put-backs are written back once they reach this size, when the
 * replay knows how many entries the dead-letter topic held at its start.
 */
export const PUT_BACK_FLUSH_BYTES = 8 * 1024 * 1024;
/**
 * Without that count (a stock node reports no lag) put-backs must wait for
 * the end, or the replay would read them again and never finish; at this
 * size it stops reading instead, so memory stays bounded on any topic.
 */
export const MAX_HELD_PUT_BACK_BYTES = 64 * 1024 * 1024;

/**
 * Entries `dlq replay` puts back on the dead-letter topic (not matching,
 * over -n, not dead letters): each is in the replay journal under `seq`
 * until it is written back, then released.
 */
export class PutBacks {
  #held: Array<{ seq: number; text: string }> = [];
  #bytes = 0;

  constructor(private readonly client: Pick<WalrusClient, 'register' | 'putMany'>, private readonly journal: Journal, private readonly dlqTopic: string) {}

  /** Bytes held in memory, waiting to be written back. */
  get bytes(): number {
    return this.#bytes;
  }

  hold(seq: number, text: string): void {
    this.#held.push({ seq, text });
    this.#bytes += Buffer.byteLength(text);
  }

  /**
   * Writes the held entries back to the end of the dead-letter topic, then
   * releases them from the journal; if the write fails they stay in the
   * journal and the next run puts them back. `register` first when the
   * topic may not exist (entries of an interrupted replay go back where they came from).
   */
  async flush(register = false): Promise<void> {
    if (this.#held.length === 0) return;
    const held = this.#held;
    this.#held = [];
    this.#bytes = 0;
    if (register) await this.client.register(this.dlqTopic);
    await this.client.putMany(this.dlqTopic, held.map((k) => k.text));
    await this.journal.release(held.map((k) => k.seq));
  }
}

/**
 * How many entries the dead-letter topic holds for this reader now (STATE's
 * `lag`), or undefined when the node does not say (a stock node) or the
 * topic does not exist. Reading no more than that in one run, the replay
 * never reads back what it put back, so it can put back as it goes.
 */
export async function entriesWaiting(client: Pick<WalrusClient, 'state'>, dlqTopic: string): Promise<number | undefined> {
  try {
    return (await client.state(dlqTopic)).lag;
  } catch {
    return undefined;
  }
}
