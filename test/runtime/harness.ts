import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { decodeEntry, encodeRecords } from '../../src/codec/index.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline, type PipelineOptions } from '../../src/runtime/pipeline/pipeline.js';
import type { PipelineSummary } from '../../src/runtime/coordinator/pipeline-stats.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

export const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/processors/${name}`, import.meta.url));

/** A node, a client and a temp state dir for one pipeline test. */
export interface Harness {
  broker: TestBroker;
  client: WalrusClient;
  stateDir: string;
  /** Writes JSON values as envelope records (one entry per `perEntry` records). */
  produce(topic: string, records: Array<{ value: unknown; key?: string }>, perEntry?: number): Promise<void>;
  /** Runs `yaml` until idle against the harness node and returns the summary. */
  run(yaml: string, options?: PipelineOptions): Promise<PipelineSummary>;
  /** Reads (destructively) every record of `topic`, values JSON-parsed. */
  drain(topic: string): Promise<Array<{ id: string; key?: string; value: unknown; headers: Record<string, string> }>>;
  /** Reads every raw entry of `topic`. */
  drainEntries(topic: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function harness(): Promise<Harness> {
  const broker = await startTestBroker();
  const client = new WalrusClient({ nodes: [broker.address] });
  const stateDir = await mkdtemp(join(tmpdir(), 'walrus-pipeline-'));
  const drainEntries = async (topic: string) => {
    const out: string[] = [];
    for (;;) {
      const got = await client.getMany(topic, 1000);
      if (got.length === 0) return out;
      out.push(...got.map((b) => b.toString('utf8')));
    }
  };
  return {
    broker, client, stateDir, drainEntries,
    async produce(topic, records, perEntry = 1) {
      await client.register(topic);
      const entries: string[] = [];
      for (let i = 0; i < records.length; i += perEntry) {
        entries.push(encodeRecords(records.slice(i, i + perEntry).map((r) => ({
          value: Buffer.from(JSON.stringify(r.value)), key: r.key,
        }))));
      }
      await client.putMany(topic, entries);
    },
    async run(yaml, options = {}) {
      const { topology } = await loadTopologyText(yaml, join(fileURLToPath(new URL('../fixtures/processors/', import.meta.url)), 'topology.yaml'), {
        env: { STATE_DIR: stateDir },
      });
      const pipeline = await startPipeline(topology, { nodes: [broker.address], untilIdle: true, ...options });
      return pipeline.done;
    },
    async drain(topic) {
      const entries = await drainEntries(topic);
      return entries.flatMap((e) => decodeEntry(e)).map((r) => ({
        id: r.id, key: r.key, headers: r.headers, value: JSON.parse(Buffer.from(r.value).toString('utf8')) as unknown,
      }));
    },
    async close() {
      await client.close();
      await broker.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
