import { parseArgs } from '../parse-args.js';
import { MAX_PARTITIONS, partitionTopic } from '../../codec/partitioning.js';
import { CONNECT_HELP, CONNECT_OPTIONS, cliClient } from '../connect-options.js';
import { topicProblem } from '../../protocol/index.js';
import type { TopicStateInfo } from '../../client/index.js';
import { EXIT, UsageError, type CliCommand } from '../command.js';

export { CONNECT_HELP as NODES_HELP, cliClient, resolveNodes } from '../connect-options.js';

/** The single `<topic>` positional, checked. */
export function topicArg(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes exactly one <topic>, got ${positionals.length}`);
  const problem = topicProblem(positionals[0]);
  if (problem !== undefined) throw new UsageError(problem);
  return positionals[0]!;
}

/** `--partition <i>` of state and dlq replay: one partition of a topic with `partitions` partitions (undefined: all). */
export function partitionArg(value: string | undefined, partitions: number): number | undefined {
  if (value === undefined) return undefined;
  const i = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(i >= 0 && i < MAX_PARTITIONS)) throw new UsageError(`--partition expects a partition number from 0, got "${value}"`);
  if (partitions > 1 && i >= partitions) throw new UsageError(`--partition ${i} is out of range: the topic has ${partitions} partitions (0..${partitions - 1})`);
  return i;
}

/** The Walrus topics `--partitions`/`--partition` name: every partition, one, or the topic itself. */
export function selectedTopics(topic: string, partitions: number, partition: number | undefined): string[] {
  // `--partition i` alone names `<topic>.p<i>` whatever the count.
  if (partition !== undefined) return [partitionTopic(topic, partition, MAX_PARTITIONS)];
  return Array.from({ length: partitions }, (_, i) => partitionTopic(topic, i, partitions));
}

/** `--partitions <n>` of produce and consume (docs/scaling.md). */
export function partitionsArg(value: string | undefined, flag = '--partitions'): number {
  if (value === undefined) return 1;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_PARTITIONS)) throw new UsageError(`${flag} expects a whole number from 1 to ${MAX_PARTITIONS}, got "${value}"`);
  return n;
}

const usage = `Usage: walrus-stream state <topic> [options]

Prints the STATE of a topic as JSON: segments, leaders and, on the embedded
node, entries written, read cursor and lag. Of a partitioned topic
(--partitions n), the STATE of each partition <topic>.p<i> and the totals.

Options:
  --partitions <n>         the topic has n partitions: show each and the sums (docs/scaling.md; default 1)
  --partition <i>          only partition i (<topic>.p<i>)
${CONNECT_HELP}
  -h, --help               show this help
`;

const command: CliCommand = {
  name: 'state',
  summary: 'Show the segments, leaders and lag of a topic',
  usage,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args, options: { ...CONNECT_OPTIONS, partitions: { type: 'string' }, partition: { type: 'string' } }, strict: true, allowPositionals: true,
    });
    const topic = topicArg(positionals, 'state');
    const partitions = partitionsArg(values.partitions);
    const partition = partitionArg(values.partition, partitions);
    const topics = selectedTopics(topic, partitions, partition);
    const client = await cliClient(values, io);
    try {
      const shown: Array<Omit<TopicStateInfo, 'raw'>> = [];
      for (const t of topics) {
        const { raw: _raw, ...info } = await client.state(t);
        shown.push(info);
      }
      if (topics.length === 1) {
        io.stdout.write(`${JSON.stringify(shown[0], null, 2)}\n`);
        return EXIT.OK;
      }
      // The sums only when every partition reports the figure (a stock node reports none).
      const sum = (field: 'lag' | 'totalEntries' | 'readCursor') => shown.every((s) => typeof s[field] === 'number') ? shown.reduce((a, s) => a + s[field]!, 0) : undefined;
      io.stdout.write(`${JSON.stringify({ topic, partitions, totalEntries: sum('totalEntries'), readCursor: sum('readCursor'), lag: sum('lag'), partitionStates: shown }, null, 2)}\n`);
      return EXIT.OK;
    } finally {
      await client.close();
    }
  },
};

export default command;
