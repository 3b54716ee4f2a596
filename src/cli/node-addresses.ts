// Small on purpose: `run` imports it before the topology is loaded, without the client.
import { parseAddress } from '../client/transport/address.js';
import { BROKER_DEFAULTS } from '../broker/options.js';
import { UsageError } from './command.js';

/**
 * Refuses a node address the client would refuse, as a usage error naming
 * where it came from. Before, `--nodes localhost` (or WALRUS_NODES=localhost)
 * reached the client, which answered `CONFIG_INVALID: nodes.0: expected
 * "host:port"` with exit code 1 (an invalid topology's): neither the flag
 * nor the variable was named, and the topology had nothing to do with it.
 */
export function checkNodeAddresses(nodes: readonly string[], from: string): void {
  nodes.forEach((node, i) => {
    try {
      parseAddress(node, 'node');
    } catch (error) {
      const problem = (error as Error).message.replace(/^node: /, '').replace(/\.$/, '');
      const which = nodes.length === 1 ? '' : ` (address ${i + 1} of ${nodes.length})`;
      throw new UsageError(`${from}: "${node}"${which} is not a node address: ${problem}; write host:port, e.g. 127.0.0.1:${BROKER_DEFAULTS.port} ([::1]:${BROKER_DEFAULTS.port} for IPv6), several separated by commas`);
    }
  });
}
