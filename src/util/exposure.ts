import { isIP } from 'node:net';
import { WalrusError } from '../errors/index.js';

/**
 * The rule every listener of walrus-stream follows (the embedded node and
 * the /metrics endpoint): loopback is served as is; any other address —
 * 0.0.0.0, ::, a LAN address, a host name — needs authentication, or an
 * explicit `insecure`, and then warns on every start.
 */

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, their IPv4-mapped form, `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

export interface ExposureInput {
  /** What is listening, for messages: "the broker", "the /metrics endpoint". */
  what: string;
  host: string;
  /** True when clients must authenticate. */
  authenticated: boolean;
  /** The operator said the open bind is intended. */
  insecure: boolean;
  /** How to add authentication, for the refusal message. */
  fix: string;
}

/**
 * Throws CONFIG_INVALID for a wide-open bind; returns the warning to print
 * for an `insecure` one, or undefined when there is nothing to say.
 */
export function checkExposure(input: ExposureInput): string | undefined {
  if (isLoopback(input.host) || input.authenticated) return undefined;
  if (!input.insecure) {
    throw new WalrusError('CONFIG_INVALID', `Refusing to start ${input.what} on ${input.host} without authentication: every host that can reach it could use it. ${input.fix}, bind 127.0.0.1, or pass --insecure if the network in front of it is trusted.`, {
      context: { field: 'host', host: input.host },
    });
  }
  return `${input.what} listens on ${input.host} with no authentication (--insecure): anyone who can reach it can use it.`;
}
