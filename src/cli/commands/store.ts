import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from '../parse-args.js';
import { APP_NAME_PATTERN, STORE_NAME_PATTERN, inspectStore, listStores, storeDir, STREAM_TIME_KEY } from '../../state/index.js';
import { inspectPartitionedStore, localPartitions } from '../../state/inspect/inspect-partitions.js';
import { EXIT, UsageError, type CliCommand, type CliIo } from '../command.js';
import { topologySizeFlag } from '../topology-size-flag.js';
import { keyText, taggedJson, valueText } from '../../observability/http/stored-value.js';

const usage = `Usage: walrus-stream store [<store> [<key>]] [options]

Shows a state store of a running or stopped app, read from its files under
<stateDir>/<app>/state/<store>/ (nothing is locked or changed). A partitioned
store keeps each partition in <store>/p<i>/: the partitions the instances
using this stateDir own are read together (docs/scaling.md).

  walrus-stream store                       list the app's stores
  walrus-stream store revenue               every key of "revenue" (see --limit)
  walrus-stream store revenue cust-1        one key, and its windows (cust-1@...)

Options:
  -f, --topology <file>    read app and stateDir from this topology (default: topology.yaml when present)
  --max-topology-size <size>  refuse larger topology files before reading them (default 256KiB)
  --app <name>             app name (overrides the topology)
  --state-dir <dir>        state directory (overrides the topology; default .walrus-stream)
  --prefix <p>             only keys starting with <p>
  --limit <n>              at most <n> entries (default 100)
  --partition <i>          of a partitioned store (partitions: n), only partition <i> (default: every
                           partition an instance using this stateDir held at its last start)
  --json                   print JSON instead of text (values JSON cannot hold in a tagged form:
                           {"$bigint": "1"}, {"$map": [[k, v]]}, ...; docs/state.md)
  -h, --help               show this help
`;

async function resolveLocation(values: { topology?: string; app?: string; 'state-dir'?: string; 'max-topology-size'?: string }, io: CliIo): Promise<{ app: string; stateDir: string }> {
  let app = values.app;
  let stateDir = values['state-dir'] === undefined ? undefined : resolve(io.cwd, values['state-dir']);
  const file = values.topology ?? (existsSync(resolve(io.cwd, 'topology.yaml')) ? 'topology.yaml' : undefined);
  if ((app === undefined || stateDir === undefined) && file !== undefined) {
    const { loadTopology } = await import('../../topology/index.js');
    const { topology } = await loadTopology(file, { env: io.env, cwd: io.cwd, loadModules: false, maxBytes: topologySizeFlag(values['max-topology-size']) });
    app ??= topology.app;
    stateDir ??= topology.stateDir;
  }
  if (app === undefined) throw new UsageError('cannot tell which app: pass --app <name> or --topology <file> (or run where topology.yaml is)');
  // The app name is one directory under stateDir: a path (`../..`) would read stores outside it.
  if (!APP_NAME_PATTERN.test(app)) throw new UsageError(`--app expects an app name (a letter or digit, then A-Z a-z 0-9 . _ -, as the topology's app), got ${JSON.stringify(app)}`);
  return { app, stateDir: stateDir ?? resolve(io.cwd, '.walrus-stream') };
}

const show = (key: string): string => (key === STREAM_TIME_KEY ? '(stream time)' : keyText(key));
/** Entries as JSON-safe data: a value JSON cannot hold in its tagged form (stored-value.ts). */
const tagged = (entries: Array<{ key: string; value: unknown }>): Array<{ key: string; value: unknown }> =>
  entries.map((e) => ({ ...e, value: taggedJson(e.value) }));

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
        partition: { type: 'string' },
        'max-topology-size': { type: 'string' },
      },
    });
    if (positionals.length > 2) throw new UsageError(`store takes at most <store> and <key>, got ${positionals.length} arguments`);
    const limit = Number(values.limit);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit expects a positive whole number, got "${values.limit}"`);
    const { app, stateDir } = await resolveLocation(values, io);
    const [name, key] = positionals;
    // A bad name was STATE_STORE_ERROR from the store reader, exit 3 (a runtime failure), for a typo on the command line.
    if (name !== undefined && (!STORE_NAME_PATTERN.test(name) || name === '.' || name === '..')) {
      throw new UsageError(`<store> expects a store name (1-100 characters from A-Z a-z 0-9 . _ -, as under the topology's stores:), got ${JSON.stringify(name)}; \`walrus-stream store\` alone lists them`);
    }

    if (name === undefined) {
      const stores = await listStores(stateDir, app);
      if (values.json) io.stdout.write(`${JSON.stringify({ app, stateDir, stores })}\n`);
      else io.stdout.write(stores.length === 0 ? `no state stores for app "${app}" in ${stateDir}\n` : `${stores.join('\n')}\n`);
      return EXIT.OK;
    }
    // With a key: the key itself and the entries kept under it (`key@...`: windows, sub-keys).
    const filter = key === undefined ? undefined : (k: string) => k === key || k.startsWith(`${key}@`);
    const partition = values.partition === undefined ? undefined : Number(values.partition);
    if (partition !== undefined && !(Number.isSafeInteger(partition) && partition >= 0 && /^\d+$/.test(values.partition!))) {
      throw new UsageError(`--partition expects a partition number (0, 1, ...), got "${values.partition}"`);
    }
    if ((await localPartitions(storeDir(stateDir, app, name))).length > 0 || partition !== undefined) {
      return showPartitioned(io, { stateDir, app, name, key, limit, json: values.json === true, select: { prefix: values.prefix, filter, partition } });
    }
    const dir = storeDir(stateDir, app, name);
    const base = await inspectStore(dir, name, { prefix: values.prefix, limit: limit + 1, filter });
    let entries = base.entries;
    const truncated = entries.length > limit;
    entries = entries.slice(0, limit);
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ ...base, entries: tagged(entries), truncated })}\n`);
      return key !== undefined && entries.length === 0 ? EXIT.INVALID : EXIT.OK;
    }
    io.stdout.write(`store ${name} (app ${app}): ${base.keys} keys, commit ${base.seq}${base.restore === 'none' ? '' : `, restore ${base.restore}`}${base.tornBytes > 0 ? `, ${base.tornBytes} bytes being written or torn` : ''}\n`);
    for (const e of entries) io.stdout.write(`${show(e.key)}\t${valueText(e.value)}\n`);
    if (truncated) io.stdout.write(`… more entries: use --limit or --prefix\n`);
    if (key !== undefined && entries.length === 0) {
      io.stderr.write(`no key "${key}" in store ${name}\n`);
      return EXIT.INVALID;
    }
    return EXIT.OK;
  },
};

interface ShowOptions {
  stateDir: string; app: string; name: string; key: string | undefined; limit: number; json: boolean;
  select: { prefix?: string | undefined; filter?: ((k: string) => boolean) | undefined; partition?: number | undefined };
}

/** A partitioned store: its partitions held here (or one), merged in key order. */
async function showPartitioned(io: CliIo, o: ShowOptions): Promise<number> {
  const found = await inspectPartitionedStore(o.stateDir, o.app, o.name, { ...o.select, limit: o.limit + 1 });
  const truncated = found.entries.length > o.limit;
  const entries = found.entries.slice(0, o.limit);
  const missing = o.key !== undefined && entries.length === 0;
  if (o.json) {
    io.stdout.write(`${JSON.stringify({ ...found, entries: tagged(entries), truncated })}\n`);
    return missing ? EXIT.INVALID : EXIT.OK;
  }
  const parts = (found.partitions ?? []).map((p) => `p${p.partition} commit ${p.seq}${p.restore === 'none' ? '' : ` restore ${p.restore}`}${p.tornBytes > 0 ? ` ${p.tornBytes} bytes being written or torn` : ''}`);
  io.stdout.write(`store ${o.name} (app ${o.app}): ${found.keys} keys in partition${parts.length === 1 ? '' : 's'} ${parts.join(', ') || 'none'}` +
    `${found.stale.length > 0 ? `; stale local copies not shown: p${found.stale.join(', p')} (held by no instance here at its last start; --partition <i> shows one)` : ''}\n`);
  for (const e of entries) io.stdout.write(`${show(e.key)}\t${valueText(e.value)}\n`);
  if (truncated) io.stdout.write(`… more entries: use --limit or --prefix\n`);
  if (missing) {
    io.stderr.write(`no key "${o.key}" in store ${o.name}\n`);
    return EXIT.INVALID;
  }
  return EXIT.OK;
}

export default command;
