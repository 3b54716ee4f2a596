import type { CliCommand } from '../command.js';

/**
 * Every CLI command, in the order `--help` lists them. Commands are loaded
 * lazily so `walrus-stream validate` does not pay for the broker's imports.
 */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  broker: { summary: 'Run the embedded Walrus-compatible node', load: () => import('./broker.js').then((m) => m.default) },
};
