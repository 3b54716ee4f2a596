import { WalrusError } from '../../errors/index.js';

/** A node's address. */
export interface NodeAddress {
  host: string;
  port: number;
}

/** What callers may pass for a node: `"host:port"` (IPv6 as `"[::1]:9091"`) or `{ host, port }`. */
export type NodeAddressInput = string | NodeAddress;

/** Parses `"host:port"` / `{host, port}`; throws CONFIG_INVALID naming `field` when it is not one. */
export function parseAddress(input: NodeAddressInput, field = 'nodes'): NodeAddress {
  if (typeof input === 'object' && input !== null) return checkPort(input.host, input.port, field);
  if (typeof input !== 'string') throw invalid(field, `expected "host:port" or {host, port}, got ${typeof input}`);
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(input);
  if (bracketed) return checkPort(bracketed[1]!, Number(bracketed[2]), field);
  const at = input.lastIndexOf(':');
  if (at <= 0 || input.indexOf(':') !== at) throw invalid(field, `expected "host:port", got ${JSON.stringify(input)}`);
  const port = input.slice(at + 1);
  if (!/^\d+$/.test(port)) throw invalid(field, `port of ${JSON.stringify(input)} is not a number`);
  return checkPort(input.slice(0, at), Number(port), field);
}

/** `host:port`, the form used in error contexts, stats and `capabilities(node)`. */
export function formatAddress(address: NodeAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function checkPort(host: string, port: number, field: string): NodeAddress {
  if (typeof host !== 'string' || host.length === 0) throw invalid(field, 'host must be a non-empty string');
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw invalid(field, `port must be an integer from 1 to 65535, got ${port}`);
  return { host, port };
}

function invalid(field: string, problem: string): WalrusError {
  return new WalrusError('CONFIG_INVALID', `${field}: ${problem}.`, { context: { field } });
}
