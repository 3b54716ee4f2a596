import { parseTopologySizeFlag } from '../topology/validate/limits.js';
import { UsageError } from './command.js';

/**
 * `--max-topology-size <size>` of every command that reads a topology: the
 * size-limit error of the loader (src/topology/validate/limits.ts) tells the
 * user to raise the limit with it. Undefined when not given.
 */
export function topologySizeFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const bytes = parseTopologySizeFlag(value);
  if (bytes === undefined) throw new UsageError(`--max-topology-size expects a size such as 2MiB, got "${value}"`);
  return bytes;
}
