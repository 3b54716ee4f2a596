import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from '../parse-args.js';
import { UsageError, type CliCommand } from '../command.js';
import type { Diagnostic, LogLevel } from '../../topology/types.js';
import { formatDiagnostic } from '../../topology/validate/diagnostics.js';
import { MAX_TIMER_MS } from '../../topology/schema/schema-fields.js';
import { DEFAULT_CASE_TIMEOUT_MS } from '../../testing/cases/case-threads.js';

const usage = `Usage: walrus-stream test [paths...] [options]

Runs the test cases of YAML test files (*.test.yaml) against their topology,
without a node: records go in per source, and what each sink received, what
was dead-lettered and what the state stores hold are checked
(docs/testing.md). A directory is searched for *.test.yaml / *.test.yml
files, recursively (default: the current directory).

Options:
  --filter <text>       run only the cases whose name contains <text>
  --log-level <level>   what processors log to stderr (default error; silent, warn, info, debug...)
  --timeout <ms>        real time one case may take (default 10000): a case still running then (a
                        processor in an endless loop) is stopped and fails, naming the processor
  -h, --help            show this help

Output: one line per case, what differed (expected - / actual +) for each
failing case, then "N passed, M failed".
Exit codes: 0 every case passed, 1 a case failed, 2 a test file (or its
topology) is broken (FILE:LINE:COL: error: ...) or bad usage.
`;

const NEVER_SETTLES = 'nothing was left to run while a processor\'s top-level await, init() or process() waited on a promise that never settles';
const quitMessage = (code: string) => `a processor ended the process (process.exit(${code})) at import, in init() or in process(); ` +
  'a processor must not call process.exit(): throw an Error to fail';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const SKIP_DIRS = new Set(['node_modules']);

const command: CliCommand = {
  name: 'test',
  summary: 'Run YAML test cases of a topology without a node (*.test.yaml)',
  usage,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args, allowPositionals: true, strict: true,
      options: { filter: { type: 'string' }, 'log-level': { type: 'string', default: 'error' }, timeout: { type: 'string' } },
    });
    const timeoutMs = values.timeout === undefined ? DEFAULT_CASE_TIMEOUT_MS : Number(values.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMER_MS) {
      throw new UsageError(`--timeout expects milliseconds from 1 to ${MAX_TIMER_MS} (real time one case may take), got "${values.timeout}"`);
    }
    const logLevel = values['log-level']!;
    if (!LEVELS.includes(logLevel)) throw new UsageError(`--log-level expects one of ${LEVELS.join(', ')}, got "${logLevel}"`);
    // Loaded here, not at the top: `--help` should not pay for the runtime's imports.
    const { runFileCases } = await import('../../testing/cases/case-threads.js');
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
    // Test files load (their processors are imported) and their cases run in a worker thread per file
    // (src/testing/cases/case-threads.ts): this process never runs processor code. A processor's process.exit()
    // (at import, in init or process) would have ended it with its own code, 0 reading as "every case passed";
    // a promise of its that never settles, with Node's "unsettled top-level await"; an endless loop, never.
    // The thread reports the first two (the file is counted broken) and is stopped at the case deadline for the third.
    return await runFiles();

    async function runFiles(): Promise<number> {
      for (const file of files.found) {
        let end;
        try {
          end = await runFileCases({
            file, cwd: io.cwd, env: io.env, filter: values.filter, logLevel: logLevel as LogLevel, timeoutMs,
            onLoaded: () => io.stdout.write(`${file}\n`),
            onResult: (r) => {
              if (r.ok) passed += 1; else failed += 1;
              io.stdout.write(`  ${mark(r.ok)} ${r.name} (${Math.round(r.ms)} ms)${r.ok ? '' : `  ${file}:${r.line}`}\n`);
              for (const line of r.problems) io.stdout.write(`      ${line}\n`);
            },
          });
        } catch (error) {
          const diagnostics = (error as { context?: { diagnostics?: Diagnostic[] } })?.context?.diagnostics;
          if (!Array.isArray(diagnostics)) throw error;
          broken += 1;
          io.stderr.write(`${diagnostics.map(formatDiagnostic).join('\n')}\n`);
          continue;
        }
        if (end.ended !== 'done') {
          io.stderr.write(`walrus-stream test: the cases of ${file} were not checked: ${end.ended === 'idle'
            ? NEVER_SETTLES : quitMessage(String(end.code))}\n`);
          return 2;
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
