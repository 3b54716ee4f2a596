import { parseArgs } from 'node:util';
import { WalrusClient } from '../../client/index.js';
import { BROKER_DEFAULTS } from '../../broker/options.js';
import { topicProblem } from '../../protocol/index.js';
import { EXIT, UsageError, type CliCommand, type CliIo } from '../command.js';

/** `--nodes` help line shared by produce, consume, state and metrics. */
export const NODES_HELP = `  --nodes <h:p,...>        Walrus nodes (default: $WALRUS_NODES, else 127.0.0.1:${BROKER_DEFAULTS.port}, the embedded node's port)`;

/** The node list from `--nodes`, else `WALRUS_NODES`, else the embedded node's default address. */
export function resolveNodes(flag: string | undefined, env: NodeJS.ProcessEnv): string[] {
  const text = flag ?? env.WALRUS_NODES ?? `127.0.0.1:${BROKER_DEFAULTS.port}`;
  const nodes = text.split(',').map((n) => n.trim()).filter((n) => n.length > 0);
  if (nodes.length === 0) throw new UsageError(`--nodes expects host:port[,host:port...], got "${text}"`);
  return nodes;
}

/** A client for a one-shot CLI command (configuration errors become usage errors). */
export function cliClient(flag: string | undefined, io: CliIo): WalrusClient {
  return new WalrusClient({ nodes: resolveNodes(flag, io.env) });
}

/** The single `<topic>` positional, checked. */
export function topicArg(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes exactly one <topic>, got ${positionals.length}`);
  const problem = topicProblem(positionals[0]);
  if (problem !== undefined) throw new UsageError(problem);
  return positionals[0]!;
}

const usage = `Usage: walrus-stream state <topic> [options]

Prints the STATE of a topic as JSON: segments, leaders and, on the embedded
node, entries written, read cursor and lag.

Options:
${NODES_HELP}
  -h, --help               show this help
`;

const command: CliCommand = {
  name: 'state',
  summary: 'Show the segments, leaders and lag of a topic',
  usage,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, options: { nodes: { type: 'string' } }, strict: true, allowPositionals: true });
    const topic = topicArg(positionals, 'state');
    const client = cliClient(values.nodes, io);
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
