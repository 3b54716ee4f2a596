import { RawClient } from '../helpers/raw-client.js';
import { encodeGet, encodePut, encodeRegister, parseGet, parseOk } from '../../src/protocol/index.js';

/**
 * The two functions a store needs from Walrus (publish to and drain a
 * changelog topic), over a real TCP connection using the protocol layer.
 * The runtime passes WalrusClient's putMany/getMany instead; this keeps the
 * state tests independent of the client's progress while still talking to
 * a real node.
 */
export interface TopicIo {
  publish(entries: string[]): Promise<void>;
  fetch(): Promise<Buffer[]>;
  /** Everything in the topic, drained (destructive, like any GET). */
  drain(): Promise<string[]>;
  close(): void;
}

export async function topicIo(port: number, topic: string, fetchBatch = 200): Promise<TopicIo> {
  const client = await RawClient.connect(port);
  client.writeRaw(encodeRegister(topic));
  parseOk(Buffer.from(await client.next()));
  const io: TopicIo = {
    async publish(entries) {
      for (const e of entries) client.writeRaw(encodePut(topic, e));
      for (let i = 0; i < entries.length; i++) parseOk(Buffer.from(await client.next()));
    },
    async fetch() {
      for (let i = 0; i < fetchBatch; i++) client.writeRaw(encodeGet(topic));
      const out: Buffer[] = [];
      for (let i = 0; i < fetchBatch; i++) {
        const entry = parseGet((await client.nextFrame())!);
        if (entry !== undefined) out.push(Buffer.from(entry));
      }
      return out;
    },
    async drain() {
      const all: string[] = [];
      for (let batch = await io.fetch(); batch.length > 0; batch = await io.fetch()) all.push(...batch.map((b) => b.toString('utf8')));
      return all;
    },
    close: () => client.close(),
  };
  return io;
}
