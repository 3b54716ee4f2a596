import { resolve } from 'node:path';
import { WalrusClient, type ClientAuth, type ClientTls } from '../client/index.js';
import { checkNodeAddresses } from './node-addresses.js';
import { BROKER_DEFAULTS } from '../broker/options.js';
import { passwordProblem, userNameProblem } from '../protocol/auth.js';
import { UsageError, type CliIo } from './command.js';
import { readSecret } from './read-secret.js';
import { MAX_PEM_BYTES, readTextBounded } from '../util/read-bounded.js';

/**
 * How one-shot commands (produce, consume, state, metrics, dlq) reach the
 * nodes: addresses, login and TLS. The password is never a flag (argv is
 * visible to every user of the machine): WALRUS_PASSWORD, or a prompt.
 */
export const CONNECT_OPTIONS = {
  nodes: { type: 'string' },
  user: { type: 'string' },
  tls: { type: 'boolean' },
  'tls-ca': { type: 'string' },
} as const;

export const CONNECT_HELP = `  --nodes <h:p,...>        Walrus nodes (default: $WALRUS_NODES, else 127.0.0.1:${BROKER_DEFAULTS.port}, the embedded node's port)
  --user <name>            log in as <name> (default: $WALRUS_USER); the password comes from
                           $WALRUS_PASSWORD, else a prompt on the terminal
  --tls                    speak TLS to the nodes (system CAs)
  --tls-ca <file>          speak TLS, trusting the CA(s) in this PEM file (default: $WALRUS_TLS_CA)`;

export interface ConnectValues {
  nodes?: string | undefined;
  user?: string | undefined;
  tls?: boolean | undefined;
  'tls-ca'?: string | undefined;
}

/** The node list from `--nodes`, else `WALRUS_NODES`, else the embedded node's default address. */
export function resolveNodes(flag: string | undefined, env: NodeJS.ProcessEnv): string[] {
  const text = flag ?? env.WALRUS_NODES ?? `127.0.0.1:${BROKER_DEFAULTS.port}`;
  const nodes = text.split(',').map((n) => n.trim()).filter((n) => n.length > 0);
  const from = flag === undefined && env.WALRUS_NODES !== undefined ? '$WALRUS_NODES' : '--nodes';
  if (nodes.length === 0) throw new UsageError(`${from} expects host:port[,host:port...], got "${text}"`);
  checkNodeAddresses(nodes, from);
  return nodes;
}


/** `--user` / WALRUS_USER with WALRUS_PASSWORD (or a prompt); undefined when no user is named. */
export async function resolveAuth(user: string | undefined, io: CliIo): Promise<ClientAuth | undefined> {
  const username = user ?? (io.env.WALRUS_USER || undefined);
  if (username === undefined) return undefined;
  const nameProblem = userNameProblem(username);
  if (nameProblem) throw new UsageError(`--user: ${nameProblem}`);
  const password = await readSecret(io, { fromStdin: false, envName: 'WALRUS_PASSWORD', prompt: `password for ${username}: ` });
  const problem = passwordProblem(password);
  if (problem) throw new UsageError(`WALRUS_PASSWORD: ${problem}`);
  return { username, password };
}

async function resolveTls(values: ConnectValues, io: CliIo): Promise<ClientTls | undefined> {
  const caFile = values['tls-ca'] ?? (io.env.WALRUS_TLS_CA || undefined);
  if (caFile === undefined) return values.tls === true ? {} : undefined;
  try {
    return { ca: await readTextBounded(resolve(io.cwd, caFile), MAX_PEM_BYTES, 'a PEM file') };
  } catch (error) {
    throw new UsageError(`--tls-ca: cannot read ${caFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** A client for a one-shot CLI command. */
export async function cliClient(values: ConnectValues, io: CliIo): Promise<WalrusClient> {
  const nodes = resolveNodes(values.nodes, io.env);
  const auth = await resolveAuth(values.user, io);
  const tls = await resolveTls(values, io);
  return new WalrusClient({ nodes, ...(auth ? { auth } : {}), ...(tls ? { tls } : {}) });
}
