import { parseArgs as parseNodeArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './command.js';

/**
 * `node:util`'s parseArgs, for every command: also refuses a single-value
 * option given twice (`--workers 2 --workers 4`), which parseArgs silently
 * resolves to the last one, so a script that sets a flag and a wrapper that
 * sets it again never learn that one of them was ignored. Options declared
 * `multiple: true` (`--seed`, `--filter`, ...) repeat as before; a boolean
 * flag given twice means the same thing twice and is accepted.
 */
export function parseArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseNodeArgs<T>> {
  const parsed = parseNodeArgs({ ...config, tokens: true });
  const seen = new Map<string, string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== 'option' || token.value === undefined) continue;
    const spec = config.options?.[token.name];
    if (spec === undefined || spec.type !== 'string' || spec.multiple === true) continue;
    const earlier = seen.get(token.name);
    if (earlier !== undefined) {
      throw new UsageError(`--${token.name} was given twice ("${earlier}", then "${token.value}"); it takes one value: give it once`);
    }
    seen.set(token.name, token.value);
  }
  if (config.tokens !== true) delete (parsed as { tokens?: unknown }).tokens;
  return parsed as ReturnType<typeof parseNodeArgs<T>>;
}
