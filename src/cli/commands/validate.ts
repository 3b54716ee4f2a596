import { resolve } from 'node:path';
import { parseArgs } from '../parse-args.js';
import { EXIT, UsageError, type CliCommand } from '../command.js';
import { describeCounts, diagnosticsOf, formatReport } from '../../topology/report.js';
import { guessTypeScript, prestartModuleCheck } from '../../topology/validate/isolated-modules.js';
import { MAX_TIMER_MS } from '../../topology/schema/schema-fields.js';
import type { Diagnostic } from '../../topology/types.js';
import { describeStageGroups, planStageGroups } from '../../topology/stage-groups.js';
import { planRepartitions, withRepartitions } from '../../topology/repartition.js';

const usage = `Usage: walrus-stream validate [file] [options]

Checks a topology file (default: ./topology.yaml) and reports every problem
at once, each as FILE:LINE:COL: error|warning: message. Processor modules are
imported to check that each default-exports a processor.

Options:
  --format <text|json>   output format (default text); json prints one object for tooling
  --no-modules           only check module files exist; do not import them (runs no user code)
  --module-timeout <ms>  stop importing a module after this long and report it as broken
                         (default 10000); each module is imported in its own worker thread
                         (heap limit 256 MB), so one that exits, hangs or allocates at import
                         is reported, never taken for valid
  --max-topology-size <size>
                         refuse larger topology files before reading them (default 256KiB); a file
                         with more than 100 YAML aliases is refused before it is parsed
  -h, --help             show this help

Exit codes: 0 valid (warnings allowed), 1 invalid (a broken module included), 2 bad usage.
`;

interface JsonResult {
  ok: boolean;
  file: string;
  counts?: { sources: number; processors: number; sinks: number };
  /** Stage groups: processors that run in one worker task. */
  groups?: Array<{ name: string; members: string[]; ordering: string; reason: string }>;
  /** Internal repartition topics `run` puts behind partitioned re-keys (docs/scaling.md). */
  repartitions?: Array<{ topic: string; partitions: number; from: string; to: string[] }>;
  diagnostics: Diagnostic[];
}

const command: CliCommand = {
  name: 'validate',
  summary: 'Check a topology file and report every problem with file:line:col',
  usage,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: { format: { type: 'string', default: 'text' }, 'no-modules': { type: 'boolean', default: false }, 'max-topology-size': { type: 'string' }, 'module-timeout': { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    if (values.format !== 'text' && values.format !== 'json') throw new UsageError(`--format expects text or json, got "${values.format}"`);
    if (positionals.length > 1) throw new UsageError(`expected at most one topology file, got ${positionals.length}`);
    const file = positionals[0] ?? 'topology.yaml';
    // Imported only for the flag: it brings the YAML lexer, which the check thread should not wait for.
    const maxBytes = values['max-topology-size'] === undefined ? undefined
      : (await import('../../topology/validate/limits.js')).parseTopologySizeFlag(values['max-topology-size']);
    if (values['max-topology-size'] !== undefined && maxBytes === undefined) throw new UsageError(`--max-topology-size expects a size such as 2MiB, got "${values['max-topology-size']}"`);

    const moduleTimeoutMs = values['module-timeout'] === undefined ? undefined : Number(values['module-timeout']);
    if (moduleTimeoutMs !== undefined && (!Number.isInteger(moduleTimeoutMs) || moduleTimeoutMs < 1 || moduleTimeoutMs > MAX_TIMER_MS)) {
      throw new UsageError(`--module-timeout expects milliseconds from 1 to ${MAX_TIMER_MS} (the longest timer Node.js sets, about 24.8 days), got "${values['module-timeout']}"`);
    }
    let result: JsonResult;
    try {
      // The thread that imports the first processor starts now, and the
      // topology code (YAML, zod) loads meanwhile: their start-ups overlap.
      if (!values['no-modules']) prestartModuleCheck(guessTypeScript(resolve(io.cwd, file)));
      const { loadTopology } = await import('../../topology/load.js');
      const { topology, warnings } = await loadTopology(file, { env: io.env, cwd: io.cwd, loadModules: !values['no-modules'], maxBytes, moduleTimeoutMs });
      const counts = {
        sources: Object.keys(topology.sources).length,
        processors: Object.keys(topology.processors).length,
        sinks: Object.keys(topology.sinks).length,
      };
      withRepartitions(topology); // refuses a repartition topic whose name is taken, as run would
      const repartitions = planRepartitions(topology).map((r) => ({ topic: r.topic, partitions: r.partitions, from: r.from.output === 'default' ? r.from.processor : `${r.from.processor}.${r.from.output}`, to: r.to }));
      result = { ok: true, file, counts, groups: planStageGroups(topology).map((g) => ({ name: g.name, members: g.members, ordering: g.ordering, reason: g.reason })), ...(repartitions.length > 0 ? { repartitions } : {}), diagnostics: warnings };
      if (values.format === 'text') {
        io.stderr.write(formatReport(file, warnings));
        io.stdout.write(`${file}: ok — ${describeCounts(topology)}${warnings.length > 0 ? ` (${warnings.length} warning${warnings.length === 1 ? '' : 's'})` : ''}\n`);
        const groups = describeStageGroups(topology);
        io.stdout.write(`stage groups (${groups.length}): ${groups.join(' | ')}\n`);
        if (repartitions.length > 0) {
          io.stdout.write(`repartition topics (${repartitions.length}): ${repartitions.map((r) => `${r.from} → ${r.topic} (${r.partitions} partitions) → ${r.to.join(', ')}`).join(' | ')}\n`);
        }
      }
    } catch (error) {
      const diagnostics = diagnosticsOf(error);
      if (diagnostics === undefined) throw error;
      result = { ok: false, file, diagnostics };
      if (values.format === 'text') io.stderr.write(formatReport(file, diagnostics));
    }
    if (values.format === 'json') io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return result.ok ? EXIT.OK : EXIT.INVALID;
  },
};

export default command;
