import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { inspectStore, listStores, storeDir, STREAM_TIME_KEY } from '../../state/index.js';
import { EXIT, UsageError, type CliCommand, type CliIo } from '../command.js';

const usage = `Usage: walrus-stream store [<store> [<key>]] [options]

Shows a state store of a running or stopped app, read from its files under
<stateDir>/<app>/state/<store>/ (nothing is locked or changed).

  walrus-stream store                       list the app's stores
  walrus-stream store revenue               every key of "revenue" (see --limit)
  walrus-stream store revenue cust-1        one key, and its windows (cust-1@...)

Options:
  -f, --topology <file>    read app and stateDir from this topology (default: topology.yaml when present)
  --app <name>             app name (overrides the topology)
  --state-dir <dir>        state directory (overrides the topology; default .walrus-stream)
  --prefix <p>             only keys starting with <p>
  --limit <n>              at most <n> entries (default 100)
  --json                   print JSON instead of text
  -h, --help               show this help
`;

async function resolveLocation(values: { topology?: string; app?: string; 'state-dir'?: string }, io: CliIo): Promise<{ app: string; stateDir: string }> {
  let app = values.app;
  let stateDir = values['state-dir'] === undefined ? undefined : resolve(io.cwd, values['state-dir']);
  const file = values.topology ?? (existsSync(resolve(io.cwd, 'topology.yaml')) ? 'topology.yaml' : undefined);
  if ((app === undefined || stateDir === undefined) && file !== undefined) {
    const { loadTopology } = await import('../../topology/index.js');
    const { topology } = await loadTopology(file, { env: io.env, cwd: io.cwd, loadModules: false });
    app ??= topology.app;
    stateDir ??= topology.stateDir;
  }
  if (app === undefined) throw new UsageError('cannot tell which app: pass --app <name> or --topology <file> (or run where topology.yaml is)');
  return { app, stateDir: stateDir ?? resolve(io.cwd, '.walrus-stream') };
}

const show = (key: string): string => (key === STREAM_TIME_KEY ? '(stream time)' : key);

const command: CliCommand = {
  name: 'store',
  summary: "Show a state store's keys and values (running or stopped app)",
  usage,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        topology: { type: 'string', short: 'f' },
        app: { type: 'string' },
        'state-dir': { type: 'string' },
        prefix: { type: 'string' },
        limit: { type: 'string', default: '100' },
        json: { type: 'boolean', default: false },
      },
    });
    if (positionals.length > 2) throw new UsageError(`store takes at most <store> and <key>, got ${positionals.length} arguments`);
    const limit = Number(values.limit);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit expects a positive whole number, got "${values.limit}"`);
    const { app, stateDir } = await resolveLocation(values, io);
    const [name, key] = positionals;

    if (name === undefined) {
      const stores = await listStores(stateDir, app);
      if (values.json) io.stdout.write(`${JSON.stringify({ app, stateDir, stores })}\n`);
      else io.stdout.write(stores.length === 0 ? `no state stores for app "${app}" in ${stateDir}\n` : `${stores.join('\n')}\n`);
      return EXIT.OK;
    }
    const dir = storeDir(stateDir, app, name);
    // With a key: the key itself and the entries kept under it (`key@...`: windows, sub-keys).
    const filter = key === undefined ? undefined : (k: string) => k === key || k.startsWith(`${key}@`);
    const base = await inspectStore(dir, name, { prefix: values.prefix, limit: limit + 1, filter });
    let entries = base.entries;
    const truncated = entries.length > limit;
    entries = entries.slice(0, limit);
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ ...base, entries, truncated })}\n`);
      return key !== undefined && entries.length === 0 ? EXIT.INVALID : EXIT.OK;
    }
    io.stdout.write(`store ${name} (app ${app}): ${base.keys} keys, commit ${base.seq}${base.restore === 'none' ? '' : `, restore ${base.restore}`}${base.tornBytes > 0 ? `, ${base.tornBytes} bytes being written or torn` : ''}\n`);
    for (const e of entries) io.stdout.write(`${show(e.key)}\t${JSON.stringify(e.value)}\n`);
    if (truncated) io.stdout.write(`… more entries: use --limit or --prefix\n`);
    if (key !== undefined && entries.length === 0) {
      io.stderr.write(`no key "${key}" in store ${name}\n`);
      return EXIT.INVALID;
    }
    return EXIT.OK;
  },
};

export default command;
