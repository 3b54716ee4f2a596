import { parseArgs } from '../parse-args.js';
import pLimit from 'p-limit';
import { fetchPipelineStatus, formatPipelineMetrics } from '../../observability/index.js';
import { EXIT, UsageError, type CliCommand, type CliIo } from '../command.js';
import { CONNECT_OPTIONS } from '../connect-options.js';
import { NODES_HELP, cliClient, resolveNodes } from './state.js';

const usage = `Usage: walrus-stream metrics [options]

Prints the METRICS (Raft state) of every node as one JSON object keyed by
node address. A node that does not answer is reported with its error, and
the exit code is then ${EXIT.FAILURE}.

With --pipeline, reads a running pipeline's /metrics, /healthz and /readyz
instead (the address of \`observability.http\` or \`run --metrics-address\`)
and prints one line per walrus_stream_* series (histograms as n, mean, p50,
p99), then readiness and what is failing; exit ${EXIT.FAILURE} when not ready or not
reachable.

Options:
${NODES_HELP}
  --pipeline <url|host:port>  a running pipeline's metrics address, e.g. 127.0.0.1:9464
  -h, --help               show this help
`;

/** Nodes asked at once. */
const NODE_FANOUT = 8;

const command: CliCommand = {
  name: 'metrics',
  summary: 'Show the METRICS (Raft state, leader) of each node',
  usage,
  async run(args, io) {
    const { values } = parseArgs({ args, options: { ...CONNECT_OPTIONS, pipeline: { type: 'string' } }, strict: true, allowPositionals: false });
    if (values.pipeline !== undefined) return showPipeline(values.pipeline, io);
    const nodes = resolveNodes(values.nodes, io.env);
    const client = await cliClient(values, io);
    try {
      // Asked in parallel (a down node costs one timeout, not one per node
      // after it), a few at a time so a long --nodes list stays polite.
      const limit = pLimit(NODE_FANOUT);
      let failed = false;
      const answers = await Promise.all(nodes.map((node) => limit(async () => {
        try {
          return await client.metrics(node);
        } catch (error) {
          failed = true;
          return { error: { code: (error as { code?: string }).code ?? 'NETWORK_ERROR', message: (error as Error).message } };
        }
      })));
      // Keys in --nodes order, whatever order the answers came in.
      const out: Record<string, unknown> = Object.fromEntries(nodes.map((node, i) => [node, answers[i]]));
      io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return failed ? EXIT.FAILURE : EXIT.OK;
    } finally {
      await client.close();
    }
  },
};

/** `--pipeline`: a running pipeline's metrics table and readiness. */
async function showPipeline(target: string, io: CliIo): Promise<number> {
  const address = target.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (!/^(\[[^\]]+\]|[^:\s/]+):\d{1,5}$/.test(address)) {
    throw new UsageError(`--pipeline expects host:port or http://host:port (e.g. 127.0.0.1:9464), got "${target}"`);
  }
  // Port 0 or past 65535 was "could not reach the pipeline ... (ERR_INVALID_URL): is it running?", exit 3.
  const port = Number(/:(\d+)$/.exec(address)![1]);
  if (port < 1 || port > 65_535) throw new UsageError(`--pipeline: the port must be from 1 to 65535, got ${port} in "${target}"`);
  let status;
  try {
    status = await fetchPipelineStatus(address, { bearerToken: io.env.WALRUS_METRICS_TOKEN || undefined });
  } catch (error) {
    io.stderr.write(`walrus-stream metrics: ${(error as Error).message}\n`);
    return EXIT.FAILURE;
  }
  io.stdout.write(formatPipelineMetrics(status.metrics));
  const ready = status.ready.body as { status?: string; failing?: string[] };
  const health = status.health.body as { status?: string };
  io.stdout.write(`\nhealth: ${health.status ?? status.health.status}\nready:  ${ready.status ?? status.ready.status}\n`);
  for (const failing of ready.failing ?? []) io.stdout.write(`  - ${failing}\n`);
  return status.ready.status === 200 ? EXIT.OK : EXIT.FAILURE;
}

export default command;
