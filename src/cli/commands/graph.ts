import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from '../parse-args.js';
import { EXIT, UsageError, type CliCommand } from '../command.js';
import { topologySizeFlag } from '../topology-size-flag.js';
import { GRAPH_FORMATS, diagnosticsOf, formatReport, loadTopology, renderGraph, type GraphFormat } from '../../topology/index.js';

const usage = `Usage: walrus-stream graph [file] [options]

Draws the data flow of a topology (default: ./topology.yaml): source topics,
processors and their named outputs, sinks and their topics, dead-letter topics.
Processor modules are not imported.

Options:
  --format <mermaid|dot|text|json>  output format (default text); json is the node/edge
                                    model ({ app, nodes: [{id, kind, label}], edges: [{from, to, kind, label?}] })
  -o, --output <file>               write to a file instead of stdout
  --max-topology-size <size>        refuse larger topology files before reading them (default 256KiB)
  -h, --help                        show this help

Examples:
  walrus-stream graph --format mermaid > pipeline.mmd
  walrus-stream graph --format dot | dot -Tsvg > pipeline.svg

Exit codes: 0 drawn, 1 invalid topology, 2 bad usage.
`;

const command: CliCommand = {
  name: 'graph',
  summary: 'Draw the topology as Mermaid, DOT, text or JSON',
  usage,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: { format: { type: 'string', default: 'text' }, output: { type: 'string', short: 'o' }, 'max-topology-size': { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    const format = values.format as GraphFormat;
    if (!GRAPH_FORMATS.includes(format)) throw new UsageError(`--format expects ${GRAPH_FORMATS.join(', ')}, got "${values.format}"`);
    if (positionals.length > 1) throw new UsageError(`expected at most one topology file, got ${positionals.length}`);
    // `-o "$OUT"` with OUT unset wrote to stdout instead of the file the script meant.
    if (values.output === '') throw new UsageError('-o/--output expects a file name, got ""; leave it out to write to stdout');
    const file = positionals[0] ?? 'topology.yaml';
    // The size limit's message tells to raise it with this flag: graph said "unknown option" to that.
    const maxBytes = topologySizeFlag(values['max-topology-size']);
    try {
      const { topology, warnings } = await loadTopology(file, { env: io.env, cwd: io.cwd, maxBytes });
      io.stderr.write(formatReport(file, warnings));
      const text = renderGraph(topology, format);
      if (values.output) await writeFile(resolve(io.cwd, values.output), text);
      else io.stdout.write(text);
      return EXIT.OK;
    } catch (error) {
      const diagnostics = diagnosticsOf(error);
      if (diagnostics === undefined) throw error;
      io.stderr.write(formatReport(file, diagnostics));
      return EXIT.INVALID;
    }
  },
};

export default command;
