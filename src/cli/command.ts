/**
 * The shape of a CLI command. Each command lives in `src/cli/commands/<name>.ts`
 * and is listed once in `src/cli/commands/index.ts`.
 */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface CliCommand {
  name: string;
  /** One line for `walrus-stream --help`. */
  summary: string;
  /** Full help text printed by `walrus-stream <name> --help`. */
  usage: string;
  /** Returns the process exit code. */
  run(args: string[], io: CliIo): Promise<number>;
}

/** Exit codes shared by every command. */
export const EXIT = {
  OK: 0,
  /** The input was wrong (invalid topology, failed validation). */
  INVALID: 1,
  /** Bad usage: unknown flag, missing argument. */
  USAGE: 2,
  /** A runtime failure (node unreachable, fatal processor error). */
  FAILURE: 3,
  /** Interrupted by SIGINT (128 + 2). */
  INTERRUPTED: 130,
  /** Stopped by SIGTERM (128 + 15). */
  TERMINATED: 143,
} as const;

export class UsageError extends Error {
  override name = 'UsageError';
}
