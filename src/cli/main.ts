import { COMMANDS } from './commands/index.js';
import { EXIT, UsageError, type CliIo } from './command.js';
import { WalrusError } from '../errors/index.js';
import { didYouMean } from '../topology/validate/suggest.js';

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
      io.stderr.write(`walrus-stream ${name}: ${usageProblem(error as Error, command.usage)}\nRun \`walrus-stream ${name} --help\` for usage.\n`);
      return EXIT.USAGE;
    }
    if (error instanceof WalrusError) {
      const hint = error.code === 'REQUEST_TIMEOUT' ? SILENT_HINT : NO_ANSWER.has(error.code) ? NO_ANSWER_HINT : undefined;
      io.stderr.write(`walrus-stream ${name}: ${error.code}: ${error.message}\n${hint ? `${hint}\n` : ''}`);
      return error.code === 'TOPOLOGY_INVALID' || error.code === 'CONFIG_INVALID' || error.code === 'PARTITION_MISMATCH' ? EXIT.INVALID : EXIT.FAILURE;
    }
    // A file-system or network error (ENOENT, EACCES, EISDIR, ...) names its path in its message: the stack adds nothing for a user.
    const code = (error as { code?: unknown; syscall?: unknown })?.code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && typeof (error as { syscall?: unknown }).syscall === 'string') {
      io.stderr.write(`walrus-stream ${name}: ${(error as Error).message}\n`);
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
/** REQUEST_TIMEOUT: something took the connection and the request, and never answered. */
const SILENT_HINT = 'The node accepted the connection but did not answer (for run, cluster.requestTimeout sets how long each request waits): ' +
  `check that a Walrus node listens at that address and is not stopped, hung or overloaded, ${ADDRESS_HINT}`;

/** A usage error's message; for an unknown option, its name and the closest option of the command's usage text. */
function usageProblem(error: Error, usage: string): string {
  if ((error as { code?: string }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return error.message;
  const option = /'(-[^']*)'/.exec(error.message)?.[1];
  if (option === undefined) return error.message;
  const known = new Set(usage.match(/--[a-z][a-z0-9-]*/g) ?? []);
  return `unknown option ${option}${didYouMean(option, known)}`;
}

/** Runs the CLI with this process's arguments and streams; resolves with the exit code. */
export function runFromProcess(): Promise<number> {
  return main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  });
}

// `node src/cli/main.ts` (under tsx) or `node dist/esm/cli/main.js` run it
// directly; bin/walrus-stream.js imports this file and calls runFromProcess.
const isEntry = process.argv[1] !== undefined && /cli[\\/]main\.[jt]s$/.test(process.argv[1]);
if (isEntry) process.exitCode = await runFromProcess();
