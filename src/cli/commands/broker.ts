import { resolve } from 'node:path';
import { parseArgs } from '../parse-args.js';
import { startBroker, type BrokerOptions, type FsyncPolicy } from '../../broker/index.js';
import { BROKER_DEFAULTS, resolveBrokerOptions } from '../../broker/options.js';
import { EXIT, UsageError, type CliCommand } from '../command.js';
import { adduserUsage, runAdduser } from './broker-adduser.js';
import { MAX_PEM_BYTES, readTextBounded } from '../../util/read-bounded.js';

const usage = `Usage: walrus-stream broker [options]
       walrus-stream broker adduser --users <file> <name>   (see broker adduser --help)

Runs the embedded Walrus-compatible node: the Walrus client protocol on TCP,
backed by segmented, checksummed log files.

Options:
  --host <addr>            interface to bind (default ${BROKER_DEFAULTS.host}; loopback only unless you say otherwise)
  --port <n>               TCP port, 0 for any free port (default ${BROKER_DEFAULTS.port})
  --data-dir <dir>         where segments and cursors live (default ./.walrus)
  --compat <mode>          default | stock (stock: no extensions, byte-exact stock replies)
  --fsync <policy>         always | never | interval | <ms> (default interval = every ${BROKER_DEFAULTS.fsync.intervalMs} ms)
  --segment-entries <n>    entries per segment before rollover (default ${BROKER_DEFAULTS.segmentEntries})
  --segment-bytes <n>      bytes per segment file before rollover; consumed segments are deleted
                           whole, so this bounds a consumed topic's disk use; 0 = entries only
                           (default ${BROKER_DEFAULTS.segmentBytes})
  --max-connections <n>    concurrent connections; when full, a new one is accepted and the
                           longest-idle one is closed (default ${BROKER_DEFAULTS.maxConnections})
  --idle-timeout <ms>      close a connection on which nothing moved for <ms>; 0 = never
                           (default ${BROKER_DEFAULTS.idleTimeoutMs})
  --max-unsent-reply-bytes <n>
                           per connection: reply bytes not yet read by the client at which the
                           node stops reading from it until it reads (default ${BROKER_DEFAULTS.maxUnsentReplyBytes})
  --volatile-cursors       keep read cursors in memory only, like the stock node
  --lease-timeout <ms>     release a BATCH_LEASE not acknowledged within <ms> even though its
                           connection is open (a stuck reader); 0 = only when the connection closes (default 0)
  --users <file>           users file (name:scrypt-hash lines, see "broker adduser"): every connection
                           must AUTH <user> <password> first
  --tls-cert <file>        serve TLS with this PEM certificate (chain); needs --tls-key
  --tls-key <file>         the PEM private key of --tls-cert
  --insecure               allow a non-loopback --host without --users (warned on every start)
  --json                   print the address as a JSON line (the default when stdout is not a terminal)
  -h, --help               show this help

A --host other than loopback (0.0.0.0, ::, a LAN address) needs --users, or
--insecure. Walrus's GET is destructive: whoever can read can delete. See
docs/security.md.

Recovery repairs found on start (damaged entries dropped, torn tails cut, segments
with a bad header moved aside) are printed, one line each (JSON events with --json).

Stops cleanly on SIGINT / SIGTERM: answers what it received, fsyncs, closes.
`;

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} expects a non-negative integer, got "${value}"`);
  return Number(value);
}

export function parseFsync(value: string | undefined): FsyncPolicy | undefined {
  if (value === undefined) return undefined;
  if (value === 'always' || value === 'never' || value === 'interval') return value;
  const ms = /^(\d+)(ms)?$/.exec(value);
  if (!ms || Number(ms[1]) < 1) throw new UsageError(`--fsync expects always, never, interval or an interval in milliseconds, got "${value}"`);
  return { intervalMs: Number(ms[1]) };
}

/** The flag behind each option the node checks (src/broker/options.ts names the option's field). */
const FLAG_OF: Record<string, string> = {
  host: 'host', port: 'port', dataDir: 'data-dir', 'fsync.intervalMs': 'fsync', segmentEntries: 'segment-entries',
  segmentBytes: 'segment-bytes', maxConnections: 'max-connections', idleTimeoutMs: 'idle-timeout',
  maxUnsentReplyBytes: 'max-unsent-reply-bytes', leaseTimeoutMs: 'lease-timeout', users: 'users',
};

/**
 * A flag value out of the node's range is a usage error naming the flag.
 * Before, `--segment-entries 0` or `--idle-timeout 99999999999` came back
 * from the node as "CONFIG_INVALID: Invalid broker option segmentEntries:
 * ..." with exit code 1: an option name the user never wrote, and the exit
 * code of an invalid topology.
 */
function checkFlagValues(options: BrokerOptions, values: Record<string, string | boolean | undefined>): void {
  try {
    resolveBrokerOptions(options);
  } catch (error) {
    const field = (error as { context?: { field?: string } }).context?.field;
    const flag = field === undefined ? undefined : FLAG_OF[field];
    if (flag === undefined) throw error;
    const problem = (error as Error).message.replace(/^Invalid broker option [^:]*: /, '').replace(/\.$/, '');
    const given = values[flag];
    throw new UsageError(`--${flag}: ${typeof given === 'string' ? problem.replace(/, got .*$/, `, got "${given}"`) : problem}`);
  }
}

async function readPem(file: string, flag: string): Promise<string> {
  try {
    return await readTextBounded(file, MAX_PEM_BYTES, 'a PEM file');
  } catch (error) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

const command: CliCommand = {
  name: 'broker',
  summary: 'Run the embedded Walrus-compatible node',
  usage: `${usage}\n${adduserUsage}`,
  async run(args, io) {
    if (args[0] === 'adduser') return runAdduser(args.slice(1), io);
    const { values } = parseArgs({
      args,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        compat: { type: 'string' },
        fsync: { type: 'string' },
        'segment-entries': { type: 'string' },
        'segment-bytes': { type: 'string' },
        'max-connections': { type: 'string' },
        'idle-timeout': { type: 'string' },
        'max-unsent-reply-bytes': { type: 'string' },
        'volatile-cursors': { type: 'boolean' },
        'lease-timeout': { type: 'string' },
        users: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        insecure: { type: 'boolean' },
        json: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.compat !== undefined && values.compat !== 'default' && values.compat !== 'stock') {
      throw new UsageError(`--compat expects default or stock, got "${values.compat}"`);
    }
    const json = values.json === true || !io.stdout.isTTY;
    const options: BrokerOptions = {
      host: values.host ?? BROKER_DEFAULTS.host,
      port: integer('port', values.port) ?? BROKER_DEFAULTS.port,
      dataDir: resolve(io.cwd, values['data-dir'] ?? '.walrus'),
      compat: (values.compat as 'default' | 'stock' | undefined) ?? 'default',
      fsync: parseFsync(values.fsync) ?? BROKER_DEFAULTS.fsync,
      segmentEntries: integer('segment-entries', values['segment-entries']) ?? BROKER_DEFAULTS.segmentEntries,
      segmentBytes: integer('segment-bytes', values['segment-bytes']) ?? BROKER_DEFAULTS.segmentBytes,
      maxConnections: integer('max-connections', values['max-connections']) ?? BROKER_DEFAULTS.maxConnections,
      idleTimeoutMs: integer('idle-timeout', values['idle-timeout']?.replace(/ms$/, '')) ?? BROKER_DEFAULTS.idleTimeoutMs,
      maxUnsentReplyBytes: integer('max-unsent-reply-bytes', values['max-unsent-reply-bytes']) ?? BROKER_DEFAULTS.maxUnsentReplyBytes,
      // Every repair is reported where the operator looks: a JSON event, or a line on stderr.
      onRecoveryRepair: (repair) => {
        if (json) io.stdout.write(`${JSON.stringify({ event: 'recovery-repair', ...repair })}\n`);
        else io.stderr.write(`walrus-stream broker: ${repair.message}\n`);
      },
      persistCursors: !values['volatile-cursors'],
      leaseTimeoutMs: integer('lease-timeout', values['lease-timeout']?.replace(/ms$/, '')) ?? BROKER_DEFAULTS.leaseTimeoutMs,
      users: values.users === undefined ? undefined : resolve(io.cwd, values.users),
      insecure: values.insecure === true,
    };
    checkFlagValues(options, values);
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
    if (values['tls-cert'] !== undefined && values['tls-key'] !== undefined) {
      options.tls = { cert: await readPem(resolve(io.cwd, values['tls-cert']), '--tls-cert'), key: await readPem(resolve(io.cwd, values['tls-key']), '--tls-key') };
    }
    const node = await startBroker(options);
    for (const warning of node.warnings) io.stderr.write(`walrus-stream broker: warning: ${warning}\n`);
    const fsync = typeof node.options.fsync === 'object' ? `${node.options.fsync.intervalMs}ms` : node.options.fsync;
    if (json) {
      io.stdout.write(`${JSON.stringify({ event: 'listening', address: node.address, host: node.host, port: node.port, pid: process.pid, dataDir: node.options.dataDir, compat: node.options.compat, fsync, tls: node.options.tls, auth: node.stats().users > 0 })}\n`);
    } else {
      const access = node.stats().users > 0 ? `${node.stats().users} user(s), AUTH required` : 'no users, no AUTH';
      io.stdout.write(`walrus-stream broker listening on ${node.address} (data ${node.options.dataDir}, fsync ${fsync}, compat ${node.options.compat}, ${node.options.tls ? 'TLS' : 'plain TCP'}, ${access})\n`);
    }

    const signal = await new Promise<NodeJS.Signals | undefined>((done) => {
      process.once('SIGINT', () => done('SIGINT'));
      process.once('SIGTERM', () => done('SIGTERM'));
      void node.closed.then(() => done(undefined));
    });
    if (signal === undefined) {
      const reason = node.failure?.message ?? 'stopped unexpectedly';
      if (json) io.stdout.write(`${JSON.stringify({ event: 'failed', error: reason })}\n`);
      io.stderr.write(`walrus-stream broker: stopped: ${reason}\n`);
      return EXIT.FAILURE;
    }
    await node.close();
    if (json) io.stdout.write(`${JSON.stringify({ event: 'stopped', signal })}\n`);
    else io.stderr.write(`walrus-stream broker: ${signal}, flushed and stopped\n`);
    return EXIT.OK;
  },
};

export default command;
