import { dirname } from 'node:path';
import { COMMANDS } from './commands/index.js';
import { EXIT, UsageError, type CliIo } from './command.js';
import { watchOutput } from './output-errors.js';
import { WalrusError } from '../errors/index.js';
import { didYouMean } from '../topology/validate/suggest.js';
import { diskFullAdvice, isDiskFull } from '../util/disk-full.js';

export function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length), 8);
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'walrus-stream — stream processing for Walrus',
    '',
    'Usage: walrus-stream <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `walrus-stream <command> --help` for the options of a command.',
    '',
  ].join('\n');
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(helpText());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version' || name === '-v') {
    // src/cli/ in a checkout, dist/esm/cli/ when built: the package root is two or three levels up.
    const { readFileSync, existsSync } = await import('node:fs');
    const root = ['../../package.json', '../../../package.json'].map((p) => new URL(p, import.meta.url))
      .find((url) => existsSync(url) && (JSON.parse(readFileSync(url, 'utf8')) as { name?: string }).name === 'walrus-stream');
    const pkg = root === undefined ? { version: 'unknown' } : JSON.parse(readFileSync(root, 'utf8')) as { version: string };
    io.stdout.write(`${pkg.version}\n`);
    return EXIT.OK;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    io.stderr.write(`walrus-stream: unknown command "${name}"${didYouMean(name, Object.keys(COMMANDS)) || '.'} Run \`walrus-stream --help\` for the list.\n`);
    return EXIT.USAGE;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.usage.endsWith('\n') ? command.usage : `${command.usage}\n`);
    return EXIT.OK;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
        (error as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ||
        (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      io.stderr.write(`walrus-stream ${name}: ${usageProblem(error as Error, command.usage, name, rest)}\nRun \`walrus-stream ${name} --help\` for usage.\n`);
      return EXIT.USAGE;
    }
    if (error instanceof WalrusError) {
      const hint = error.code === 'REQUEST_TIMEOUT' ? SILENT_HINT : isListenFailure(error) ? LISTEN_HINT[name] : NO_ANSWER.has(error.code) ? NO_ANSWER_HINT : undefined;
      io.stderr.write(`walrus-stream ${name}: ${error.code}: ${error.message}\n${hint ? `${hint}\n` : ''}`);
      return error.code === 'TOPOLOGY_INVALID' || error.code === 'CONFIG_INVALID' || error.code === 'PARTITION_MISMATCH' ? EXIT.INVALID : EXIT.FAILURE;
    }
    // A file-system or network error (ENOENT, EACCES, EISDIR, ...) names its path in its message: the stack adds nothing for a user.
    const problem = fileProblem(error);
    if (problem !== undefined) {
      io.stderr.write(`walrus-stream ${name}: ${problem}\n`);
      return EXIT.FAILURE;
    }
    io.stderr.write(`walrus-stream ${name}: ${(error as Error)?.stack ?? String(error)}\n`);
    return EXIT.FAILURE;
  }
}

/** Codes that mean no node answered: the message names the node, the hint says what to do. */
const NO_ANSWER = new Set(['CONNECTION_REFUSED', 'CONNECTION_TIMEOUT', 'NETWORK_ERROR', 'NO_NODE_AVAILABLE', 'CIRCUIT_OPEN']);
const ADDRESS_HINT = 'or give the right address: --nodes (for run also cluster.nodes in the topology; for the other commands also $WALRUS_NODES).';
const NO_ANSWER_HINT = `Check that the node is running and reachable at that address (\`walrus-stream broker\` starts one), ${ADDRESS_HINT}`;
/**
 * The embedded node could not listen (EADDRINUSE, EADDRNOTAVAIL, EACCES):
 * NETWORK_ERROR, like a node that does not answer, but the advice to check
 * that a node is running there (`walrus-stream broker` starts one) was the
 * opposite of the problem. Where the address is set, per command.
 */
const LISTEN_HINT: Record<string, string | undefined> = {
  broker: 'Give the node another address: --port (0 picks a free one) or --host.',
  run: "Give the embedded node another address in the topology: cluster.embedded.port (0, the default, picks a free one) or cluster.embedded.host; or run on existing nodes with --nodes.",
};
function isListenFailure(error: WalrusError): boolean {
  return error.code === 'NETWORK_ERROR' && ((error.cause as NodeJS.ErrnoException | undefined)?.syscall === 'listen' || /^The broker could not listen on /.test(error.message));
}
/** REQUEST_TIMEOUT: something took the connection and the request, and never answered. */
const SILENT_HINT = 'The node accepted the connection but did not answer (for run, cluster.requestTimeout sets how long each request waits): ' +
  `check that a Walrus node listens at that address and is not stopped, hung or overloaded, ${ADDRESS_HINT}`;

/**
 * One line for a file-system or network error: its message (which names the
 * file) and what to do; undefined for anything else. Node's own errors carry
 * `syscall`; a write failure wrapped by `withFile` (src/util/disk-full.ts:
 * the embedded node creating a segment at start-up, ...) carries `path` and
 * its `cause` instead. Before, those had no `syscall` and printed a stack trace.
 */
function fileProblem(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, syscall, path } = error as NodeJS.ErrnoException;
  const errno = typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
  const named = typeof path === 'string' && path !== '';
  if (!(errno && (typeof syscall === 'string' || named)) && !(named && error.cause instanceof Error)) return undefined;
  return `${error.message.replace(/\s*\n\s*/g, ' ')}${fileAdvice(error, named ? path : undefined)}`;
}

/** What to do about a file error, after "; "; nothing when the message says enough (ENOENT) or it is not a file's. */
function fileAdvice(error: Error, path: string | undefined): string {
  const code = (error as NodeJS.ErrnoException).code;
  const file = path ?? 'the file';
  if (isDiskFull(error)) return diskFullAdvice(error, path === undefined ? 'its files' : dirname(path), 'run the command again');
  switch (code) {
    case 'EACCES': case 'EPERM': return `; the user running walrus-stream may not read or write ${file}: give it access (or choose another directory)`;
    case 'EROFS': return `; ${file} is on a read-only file system: choose a directory on a writable one`;
    case 'EISDIR': return `; ${file} is a directory, not a file: give a file's path (in a data directory: move that directory out of the way)`;
    case 'ENOTDIR': return `; a part of the path ${file} is a file, not a directory: give another path (in a data directory: move that file out of the way)`;
    case 'EMFILE': case 'ENFILE': return '; too many open files: raise the limit (`ulimit -n`) or close other programs';
    default: return '';
  }
}

/**
 * A usage error's message; for an unknown option, its name and the closest
 * option of the command's usage text. An option the usage text lists was
 * refused by another form of the command (`broker adduser --port`, `broker
 * --replace`): it was answered "unknown option --port — did you mean
 * "--port"?", the option itself; now the message says which form takes it.
 */
function usageProblem(error: Error, usage: string, name: string, args: string[]): string {
  if ((error as { code?: string }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return error.message;
  const option = /'(-[^']*)'/.exec(error.message)?.[1];
  if (option === undefined) return error.message;
  const known = new Set(usage.match(/--[a-z][a-z0-9-]*/g) ?? []);
  if (!known.has(option)) return `unknown option ${option}${didYouMean(option, known)}`;
  const sub = args[0] !== undefined && /^[a-z][a-z-]*$/.test(args[0]) && usage.includes(`walrus-stream ${name} ${args[0]} `) ? args[0] : undefined;
  return `${option} is not an option of \`walrus-stream ${name}${sub === undefined ? '' : ` ${sub}`}\`: it belongs to another form of the command (the usage lines of --help say which)`;
}

/** Runs the CLI with this process's arguments and streams; resolves with the exit code. */
export async function runFromProcess(): Promise<number> {
  const argv = process.argv.slice(2);
  // A closed pipe or a full disk behind stdout: no stack trace (./output-errors.ts).
  const output = watchOutput(process.stdout, process.stderr, argv[0]);
  const code = await main(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  });
  return output.settle(code);
}

// `node src/cli/main.ts` (under tsx) or `node dist/esm/cli/main.js` run it
// directly; bin/walrus-stream.js imports this file and calls runFromProcess.
const isEntry = process.argv[1] !== undefined && /cli[\\/]main\.[jt]s$/.test(process.argv[1]);
if (isEntry) process.exitCode = await runFromProcess();
