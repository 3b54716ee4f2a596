import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { FileTooLargeError, readTextBounded } from '../../util/read-bounded.js';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from '../parse-args.js';
import { EXIT, UsageError, type CliCommand } from '../command.js';
import { mergePackageJson } from './init-package.js';
import { scaffoldFiles, scaffoldPackage } from './init-templates.js';

const usage = `Usage: walrus-stream init [dir] [options]

Creates a walrus-stream project in <dir> (default: the current directory):
package.json (with start and test scripts), topology.yaml, a TypeScript
processor, sample input, a test of the topology and a README. Then:

  cd <dir> && npm install && npm start

Options:
  --name <name>   the app name (default: the directory's name)
  --force         write into a directory that is not empty (files of the
                  scaffold are overwritten, others are left alone; an
                  existing package.json is kept, and only the scripts and
                  dependency init needs are added to it if missing)
  -h, --help      show this help
`;

/** An npm package name and a topology app name at once: lowercase, digits, `-`, `_`, `.`. */
function appName(raw: string): string {
  const name = raw.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').replace(/-+$/, '').slice(0, 214);
  return name === '' ? 'walrus-app' : name;
}

/** walrus-stream's own version, for the scaffold's dependency (src/cli/commands or dist/esm/cli/commands). */
function ownVersion(): string {
  for (const up of ['../../../package.json', '../../../../package.json']) {
    const url = new URL(up, import.meta.url);
    if (!existsSync(url)) continue;
    const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'walrus-stream' && pkg.version !== undefined) return pkg.version;
  }
  return '0.1.0';
}

async function entriesOf(dir: string): Promise<string[] | undefined> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Largest package.json merged into: npm's own manifests are a few KB. */
const MAX_PACKAGE_JSON_BYTES = 4 * 1024 * 1024;

/**
 * The text of an existing package.json, or why it cannot be merged into.
 * Before, it was read whole, whatever it was: a package.json that is a FIFO
 * kept init waiting for ever, and one linked to /dev/zero grew the process
 * to gigabytes and ended in "RangeError: Invalid string length" with a stack.
 */
async function readPackageJson(path: string, shown: string): Promise<string | { error: string }> {
  const info = await stat(path);
  if (!info.isFile()) {
    return { error: `${shown} is not a regular file (${info.isDirectory() ? 'a directory' : info.isFIFO() ? 'a named pipe' : 'a device or socket'}), so it cannot be merged into; move it out of the way` };
  }
  try {
    return await readTextBounded(path, MAX_PACKAGE_JSON_BYTES, 'a package.json');
  } catch (error) {
    if (error instanceof FileTooLargeError) return { error: `${shown}: ${error.message}` };
    throw error;
  }
}

const command: CliCommand = {
  name: 'init',
  summary: 'Create a new project: package.json, topology, a processor, sample input, a test',
  usage,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args, allowPositionals: true, strict: true,
      options: { force: { type: 'boolean', default: false }, name: { type: 'string' } },
    });
    if (positionals.length > 1) throw new UsageError(`expected at most one directory, got ${positionals.length}`);
    const dir = resolve(io.cwd, positionals[0] ?? '.');
    const near = relative(io.cwd, dir);
    const shown = near === '' ? '.' : near.startsWith('..') ? dir : near;
    const existing = await entriesOf(dir);
    if (existing !== undefined && existing.length > 0 && !values.force) {
      io.stderr.write(`walrus-stream init: ${shown} is not empty (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', ...' : ''}); ` +
        'choose an empty or new directory, or pass --force to write the scaffold over it\n');
      return EXIT.INVALID;
    }
    const app = appName(values.name ?? basename(dir));
    const version = ownVersion();
    const files: Array<{ path: string; text: string | undefined; note?: string }> = scaffoldFiles(app, version);
    // --force over a project: its package.json is merged into, never written over (and nothing is written if it cannot be read).
    if (existing?.includes('package.json')) {
      const text = await readPackageJson(join(dir, 'package.json'), join(shown, 'package.json'));
      if (typeof text !== 'string') {
        io.stderr.write(`walrus-stream init: ${text.error}; nothing was written\n`);
        return EXIT.INVALID;
      }
      const merged = mergePackageJson(text, join(shown, 'package.json'), scaffoldPackage(app, version));
      if ('error' in merged) {
        io.stderr.write(`walrus-stream init: ${merged.error}\n`);
        return EXIT.INVALID;
      }
      const kept = merged.kept.length === 0 ? '' : `; kept your ${merged.kept.join(', ')}`;
      files[files.findIndex((f) => f.path === 'package.json')] = {
        path: 'package.json',
        text: merged.text,
        note: merged.text === undefined ? `yours, unchanged: it has what init needs${kept}` : `yours, merged: added ${merged.added.join(', ')}${kept}`,
      };
    }
    for (const file of files) {
      if (file.text === undefined) continue;
      const target = join(dir, file.path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, file.text);
    }
    io.stdout.write([
      `Created app "${app}" in ${shown === '.' ? 'this directory' : `${shown}/`}:`,
      ...files.map((f) => `  ${f.path}${f.note === undefined ? '' : ` (${f.note})`}`),
      '',
      'Next:',
      ...(shown === '.' ? [] : [`  cd ${shown}`]),
      '  npm install',
      '  npm start     # run the topology on the sample input',
      '  npm test      # check its output',
      '',
    ].join('\n'));
    return EXIT.OK;
  },
};

export default command;
