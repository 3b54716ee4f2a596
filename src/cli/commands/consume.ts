import { parseArgs } from 'node:util';
import { Consumer } from '../../client/index.js';
import type { DecodedRecord, WalrusRecord } from '../../codec/index.js';
import type { WalrusError } from '../../errors/index.js';
import { EXIT, UsageError, type CliCommand } from '../command.js';
import { CONNECT_OPTIONS } from '../connect-options.js';
import { NODES_HELP, cliClient, partitionsArg, topicArg } from './state.js';
import { partitionTopics } from '../../codec/partitioning.js';

const usage = `Usage: walrus-stream consume <topic> [options]

Reads records from a topic and prints them, one per line. Reading is
destructive in Walrus: records printed here are gone for other readers of
the same node.

  --format text   each value exactly as produced, then a newline
  --format json   one JSON object per line: {id, key, timestamp, headers, value}
                  (value parsed when it is JSON, a string when it is UTF-8,
                  else "valueBase64")

Options:
  -n, --count <n>          stop after n records (a record batch is finished, never dropped)
  -f, --follow             keep polling for new records until interrupted
  --format <f>             text | json (default text)
  --partitions <n>         the topic has n partitions: read all of <topic>.p0 … <topic>.p<n-1>
                           (docs/scaling.md; default 1, the topic itself)
${NODES_HELP}
  -h, --help               show this help

Without --follow it exits once the topic is empty.
`;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function jsonLine(r: Pick<WalrusRecord<Uint8Array>, 'id' | 'key' | 'timestamp' | 'headers'> & { value: Uint8Array }): string {
  const out: Record<string, unknown> = { id: r.id, timestamp: r.timestamp, headers: r.headers };
  if (r.key !== undefined) out.key = r.key;
  let text: string | undefined;
  try {
    text = utf8.decode(r.value);
  } catch {
    text = undefined;
  }
  if (text === undefined) out.valueBase64 = Buffer.from(r.value).toString('base64');
  else if ((r.headers['content-type'] ?? '').startsWith('application/json')) out.value = JSON.parse(text);
  else out.value = text;
  return `${JSON.stringify(out)}\n`;
}

const command: CliCommand = {
  name: 'consume',
  summary: 'Print the records of a topic',
  usage,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        count: { type: 'string', short: 'n' },
        follow: { type: 'boolean', short: 'f' },
        format: { type: 'string', default: 'text' },
        partitions: { type: 'string', default: '1' },
        ...CONNECT_OPTIONS,
      },
      strict: true,
      allowPositionals: true,
    });
    const topic = topicArg(positionals, 'consume');
    const format = values.format;
    if (format !== 'text' && format !== 'json') throw new UsageError(`--format expects text or json, got "${format}"`);
    let count: number | undefined;
    if (values.count !== undefined) {
      if (!/^\d+$/.test(values.count)) throw new UsageError(`-n expects a non-negative integer, got "${values.count}"`);
      count = Number(values.count);
    }
    const partitions = partitionsArg(values.partitions);
    const client = await cliClient(values, io);
    let broken = 0;
    // A partitioned topic is read as one consumer per partition topic, all at
    // once: records of one key keep their order (a key lives in one partition);
    // records of different partitions interleave.
    const consumers = partitionTopics(topic, partitions).map((t) => new Consumer<Uint8Array>(client, {
      topic: t,
      serializer: 'raw',
      maxRecords: count ?? Infinity,
      stopWhenEmpty: !values.follow,
      maxPollMs: 200,
      onDeserializationError: (error: WalrusError) => {
        broken++;
        io.stderr.write(`walrus-stream consume: skipped an entry that could not be decoded: ${error.message}\n`);
      },
    }));
    // close() hands back what was fetched but not printed: keep its result.
    const closing = new Map<Consumer<Uint8Array>, Promise<DecodedRecord[]>>();
    let interrupted = false;
    const closeAll = () => {
      for (const c of consumers) if (!closing.has(c)) closing.set(c, c.close());
    };
    const stop = () => {
      interrupted = true;
      closeAll();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const print = async (r: { id: string; key?: string; timestamp: number; headers: Record<string, string>; value: Uint8Array }) => {
      const ok = format === 'text' ? io.stdout.write(Buffer.concat([r.value, NEWLINE])) : io.stdout.write(jsonLine(r));
      if (!ok) await new Promise<void>((resolve) => io.stdout.once('drain', resolve));
    };
    let printed = 0;
    const drain = async (consumer: Consumer<Uint8Array>): Promise<number> => {
      for await (const record of consumer) {
        await print(record);
        printed++;
        if (count !== undefined && printed >= count) closeAll();
      }
      // GET is destructive: records fetched beyond -n (the rest of a batch)
      // are printed rather than lost.
      if (!closing.has(consumer)) closing.set(consumer, consumer.close());
      const left: DecodedRecord[] = await closing.get(consumer)!;
      for (const r of left) await print(r);
      return left.length;
    };
    try {
      const left = (await Promise.all(consumers.map(drain))).reduce((a, b) => a + b, 0);
      if (left > 0) {
        const why = interrupted ? 'were fetched before the interrupt' : `arrived in the same batch as the last of -n ${count}`;
        io.stderr.write(`walrus-stream consume: printed ${left} more record(s): they ${why}, and reading them removed them from the topic.\n`);
      }
    } finally {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      await client.close();
    }
    return broken > 0 ? EXIT.FAILURE : EXIT.OK;
  },
};

const NEWLINE = Buffer.from('\n');

export default command;
