import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from '../parse-args.js';
import { UsageError, type CliCommand } from '../command.js';
import type { Diagnostic, LogLevel } from '../../topology/types.js';
import { formatDiagnostic } from '../../topology/validate/diagnostics.js';

const usage = `Usage: walrus-stream test [paths...] [options]

Runs the test cases of YAML test files (*.test.yaml) against their topology,
without a node: records go in per source, and what each sink received, what
was dead-lettered and what the state stores hold are checked
(docs/testing.md). A directory is searched for *.test.yaml / *.test.yml
files, recursively (default: the current directory).

Options:
  --filter <text>       run only the cases whose name contains <text>
  --log-level <level>   what processors log to stderr (default error; silent, warn, info, debug...)
  -h, --help            show this help

Output: one line per case, what differed (expected - / actual +) for each
failing case, then "N passed, M failed".
Exit codes: 0 every case passed, 1 a case failed, 2 a test file (or its
topology) is broken (FILE:LINE:COL: error: ...) or bad usage.
`;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const SKIP_DIRS = new Set(['node_modules']);

const command: CliCommand = {
  name: 'test',
  summary: 'Run YAML test cases of a topology without a node (*.test.yaml)',
  usage,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args, allowPositionals: true, strict: true,
      options: { filter: { type: 'string' }, 'log-level': { type: 'string', default: 'error' } },
    });
    const logLevel = values['log-level']!;
    if (!LEVELS.includes(logLevel)) throw new UsageError(`--log-level expects one of ${LEVELS.join(', ')}, got "${logLevel}"`);
    // Loaded here, not at the top: `--help` should not pay for the runtime's imports.
    const [{ loadTestFile }, { runCases }] = await Promise.all([import('../../testing/cases/case-file.js'), import('../../testing/cases/run-cases.js')]);
    const started = performance.now();
    const tty = io.stdout.isTTY === true;
    const mark = (ok: boolean) => (ok ? (tty ? '✓' : 'ok  ') : (tty ? '✗' : 'FAIL'));
    let passed = 0, failed = 0, broken = 0;

    const files = await findTestFiles(positionals.length > 0 ? positionals : ['.'], io.cwd);
    for (const problem of files.problems) { io.stderr.write(`${problem}\n`); broken += 1; }
    if (files.found.length === 0 && files.problems.length === 0) {
      io.stderr.write(`walrus-stream test: no *.test.yaml files under ${positionals.join(', ') || io.cwd}\n`);
      return 2;
    }
    // Cases run in this process: a processor's process.exit() (at import, in init or process) would end it
    // with its own code, 0 reading as "every case passed"; a promise of theirs that never settles would end it
    // with Node's "unsettled top-level await". Either is reported and counted broken instead.
    let running = '';
    let exitCalled: string | undefined;
    const realExit = process.exit;
    process.exit = ((code?: number | string | null) => {
      exitCalled ??= String(code ?? process.exitCode ?? 0);
      return realExit.call(process, code);
    }) as typeof process.exit;
    const onExit = () => {
      io.stderr.write(`walrus-stream test: the cases of ${running || 'the test files'} were not checked: ${exitCalled === undefined
        ? 'nothing was left to run while a processor\'s top-level await, init() or process() waited on a promise that never settles'
        : `a processor ended the process (process.exit(${exitCalled})) at import, in init() or in process(); a processor must not call process.exit(): throw an Error to fail`}\n`);
      process.exitCode = 2;
    };
    process.on('exit', onExit);
    try {
      return await runFiles();
    } finally {
      process.off('exit', onExit);
      process.exit = realExit;
    }

    async function runFiles(): Promise<number> {
      for (const file of files.found) {
        running = file;
        let loaded;
        try {
          loaded = await loadTestFile(file, io.cwd, io.env);
        } catch (error) {
          const diagnostics = (error as { context?: { diagnostics?: Diagnostic[] } })?.context?.diagnostics;
          if (!Array.isArray(diagnostics)) throw error;
          broken += 1;
          io.stderr.write(`${diagnostics.map(formatDiagnostic).join('\n')}\n`);
          continue;
        }
        io.stdout.write(`${file}\n`);
        const results = await runCases(loaded, { filter: values.filter, logLevel: logLevel as LogLevel });
        for (const r of results) {
          if (r.ok) passed += 1; else failed += 1;
          io.stdout.write(`  ${mark(r.ok)} ${r.name} (${Math.round(r.ms)} ms)${r.ok ? '' : `  ${file}:${r.line}`}\n`);
          for (const line of r.problems) io.stdout.write(`      ${line}\n`);
        }
      }
      const seconds = ((performance.now() - started) / 1000).toFixed(2);
      io.stdout.write(`${passed} passed, ${failed} failed${broken > 0 ? `, ${broken} broken file${broken === 1 ? '' : 's'}` : ''} (${seconds} s)\n`);
      return broken > 0 ? 2 : failed > 0 ? 1 : 0;
    }
  },
};

/** Test files named on the command line or found under directories; unreadable paths are reported, not thrown. */
async function findTestFiles(paths: string[], cwd: string): Promise<{ found: string[]; problems: string[] }> {
  const found: string[] = [];
  const problems: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.') && !SKIP_DIRS.has(entry.name)) await walk(full);
      } else if (/\.test\.ya?ml$/.test(entry.name)) found.push(relative(cwd, full) || full);
    }
  };
  for (const path of paths) {
    const full = resolve(cwd, path);
    const info = await stat(full).catch(() => undefined);
    if (info === undefined) problems.push(`${path}:1:1: error: no such file or directory (${full})`);
    else if (info.isDirectory()) await walk(full);
    else found.push(path);
  }
  return { found: [...new Set(found)], problems };
}

export default command;
