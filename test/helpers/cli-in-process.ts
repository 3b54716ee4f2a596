import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli/main.js';

/**
 * Runs the CLI in this process (no child start-up cost) with `stdin` fed
 * from a string and stdout/stderr collected. Only for commands that end on
 * their own (not a running broker, which waits for a signal).
 */
export async function runCli(args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main(args, {
    stdout,
    stderr,
    stdin: Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]),
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
  });
  return { code, stdout: out, stderr: err };
}
