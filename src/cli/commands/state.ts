import { parseArgs } from 'node:util';
import { MAX_PARTITIONS } from '../../codec/partitioning.js';
import { CONNECT_HELP, CONNECT_OPTIONS, cliClient } from '../connect-options.js';
import { topicProblem } from '../../protocol/index.js';
import { EXIT, UsageError, type CliCommand } from '../command.js';

export { CONNECT_HELP as NODES_HELP, cliClient, resolveNodes } from '../connect-options.js';

/** The single `<topic>` positional, checked. */
export function topicArg(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes exactly one <topic>, got ${positionals.length}`);
  const problem = topicProblem(positionals[0]);
  if (problem !== undefined) throw new UsageError(problem);
  return positionals[0]!;
}

/** `--partitions <n>` of produce and consume (docs/scaling.md). */
export function partitionsArg(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_PARTITIONS)) throw new UsageError(`--partitions expects a whole number from 1 to ${MAX_PARTITIONS}, got "${value}"`);
  return n;
}

const usage = `Usage: walrus-stream state <topic> [options]

Prints the STATE of a topic as JSON: segments, leaders and, on the embedded
node, entries written, read cursor and lag.

Options:
${CONNECT_HELP}
  -h, --help               show this help
`;

const command: CliCommand = {
  name: 'state',
  summary: 'Show the segments, leaders and lag of a topic',
  usage,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, options: { ...CONNECT_OPTIONS }, strict: true, allowPositionals: true });
    const topic = topicArg(positionals, 'state');
    const client = await cliClient(values, io);
    try {
      const info = await client.state(topic);
      const { raw: _raw, ...shown } = info;
      io.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
      return EXIT.OK;
    } finally {
      await client.close();
    }
  },
};

export default command;
