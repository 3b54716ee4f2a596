import { parseArgs } from 'node:util';
import { EXIT, type CliCommand } from '../command.js';
import { NODES_HELP, cliClient, resolveNodes } from './state.js';

const usage = `Usage: walrus-stream metrics [options]

Prints the METRICS (Raft state) of every node as one JSON object keyed by
node address. A node that does not answer is reported with its error, and
the exit code is then ${EXIT.FAILURE}.

Options:
${NODES_HELP}
  -h, --help               show this help
`;

const command: CliCommand = {
  name: 'metrics',
  summary: 'Show the METRICS (Raft state, leader) of each node',
  usage,
  async run(args, io) {
    const { values } = parseArgs({ args, options: { nodes: { type: 'string' } }, strict: true, allowPositionals: false });
    const nodes = resolveNodes(values.nodes, io.env);
    const client = cliClient(values.nodes, io);
    try {
      const out: Record<string, unknown> = {};
      let failed = false;
      for (const node of nodes) {
        try {
          out[node] = await client.metrics(node);
        } catch (error) {
          failed = true;
          out[node] = { error: { code: (error as { code?: string }).code ?? 'NETWORK_ERROR', message: (error as Error).message } };
        }
      }
      io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return failed ? EXIT.FAILURE : EXIT.OK;
    } finally {
      await client.close();
    }
  },
};

export default command;
