import type { CliIo } from './command.js';
import { UsageError } from './command.js';

/**
 * Reads a password without it ever being an argument (argv is visible to
 * every user of the machine through `ps`): from stdin when asked
 * (`--password-stdin`), else from an environment variable, else by
 * prompting on the terminal with echo off.
 */
export async function readSecret(io: CliIo, options: { fromStdin: boolean; envName: string; prompt: string; confirm?: boolean }): Promise<string> {
  if (options.fromStdin) return firstLine(await readAll(io.stdin));
  const fromEnv = io.env[options.envName];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (io.stdin.isTTY !== true) {
    throw new UsageError(`no password: pipe it with --password-stdin, set ${options.envName}, or run on a terminal to be prompted`);
  }
  const first = await promptHidden(io, options.prompt);
  if (options.confirm) {
    const again = await promptHidden(io, 'again: ');
    if (again !== first) throw new UsageError('the two passwords differ');
  }
  return first;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.length > 65_536) throw new UsageError('the password on stdin is longer than 64 KiB');
  }
  return text;
}

/** The first line, without its line ending (`echo secret |` adds one). */
function firstLine(text: string): string {
  const end = text.search(/\r?\n/);
  return end === -1 ? text : text.slice(0, end);
}

/** Raw mode, nothing echoed; Enter finishes, Ctrl-C aborts, Backspace deletes. */
function promptHidden(io: CliIo, prompt: string): Promise<string> {
  const stdin = io.stdin as NodeJS.ReadStream;
  io.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (error?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
