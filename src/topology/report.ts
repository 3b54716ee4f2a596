import { formatDiagnostic } from './validate/diagnostics.js';
import type { Diagnostic, Topology } from './types.js';

/** Helpers shared by `validate` and `graph` to print results the same way. */

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** ` (1 aggregate step)` when the topology has built-in aggregation steps. */
function aggregates(topology: Topology): string {
  const n = Object.values(topology.processors).filter((p) => p.aggregate !== undefined).length;
  return n === 0 ? '' : ` (${plural(n, 'aggregate step')})`;
}

/** `1 source, 3 processors, 2 sinks` (`3 processors (1 aggregate step)` when there are some). */
export function describeCounts(topology: Topology): string {
  return [
    plural(Object.keys(topology.sources).length, 'source'),
    plural(Object.keys(topology.processors).length, 'processor') + aggregates(topology),
    plural(Object.keys(topology.sinks).length, 'sink'),
  ].join(', ');
}

/** Every diagnostic, one compiler-style line each, then a count line when there are errors. */
export function formatReport(file: string, diagnostics: readonly Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  const lines = diagnostics.map(formatDiagnostic);
  if (errors > 0) lines.push(`${file}: ${plural(errors, 'error')}${warnings > 0 ? `, ${plural(warnings, 'warning')}` : ''}`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/** The diagnostics of a TOPOLOGY_INVALID error, or undefined for any other error. */
export function diagnosticsOf(error: unknown): Diagnostic[] | undefined {
  const context = (error as { code?: unknown; context?: { diagnostics?: unknown } } | null)?.context;
  if ((error as { code?: unknown } | null)?.code !== 'TOPOLOGY_INVALID' || !Array.isArray(context?.diagnostics)) return undefined;
  return context.diagnostics as Diagnostic[];
}
