import { resolve } from 'node:path';
import { parseArgs } from '../parse-args.js';
import { hashPassword, parseHash } from '../../broker/auth/password-hash.js';
import { readUsersFile, writeUsersFile } from '../../broker/auth/users-file.js';
import { passwordProblem, userNameProblem } from '../../protocol/auth.js';
import { EXIT, UsageError, type CliIo } from '../command.js';
import { readSecret } from '../read-secret.js';

export const adduserUsage = `Usage: walrus-stream broker adduser --users <file> <name> [options]

Adds a user to a broker users file (created if missing, mode 0600), storing
a salted scrypt hash of the password, never the password. Start the node
with "walrus-stream broker --users <file>"; a running node reads the file at
start (or add users live with the ADDUSER command).

The password is never taken from the command line (other users of the
machine can read it there). In order:
  --password-stdin         read it from the first line of stdin
  $WALRUS_PASSWORD         else from this environment variable
                           else prompt on the terminal (twice, not echoed)

Options:
  --users <file>           the users file (required)
  --replace                change the password of an existing user
  -h, --help               show this help
`;

/** `walrus-stream broker adduser`: hashes a password into the users file. */
export async function runAdduser(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { users: { type: 'string' }, 'password-stdin': { type: 'boolean' }, replace: { type: 'boolean' } },
    strict: true,
    allowPositionals: true,
  });
  if (values.users === undefined) throw new UsageError('adduser needs --users <file>');
  if (positionals.length !== 1) throw new UsageError(`adduser takes exactly one <name>, got ${positionals.length}`);
  const name = positionals[0]!;
  const nameProblem = userNameProblem(name);
  if (nameProblem) throw new UsageError(nameProblem);
  const file = resolve(io.cwd, values.users);
  const users = await readUsersFile(file, true);
  if (users.has(name) && values.replace !== true) throw new UsageError(`user "${name}" is already in ${file}; pass --replace to change the password`);

  const password = await readSecret(io, { fromStdin: values['password-stdin'] === true, envName: 'WALRUS_PASSWORD', prompt: `password for ${name}: `, confirm: true });
  const problem = passwordProblem(password);
  if (problem) throw new UsageError(problem);
  const encoded = await hashPassword(password);
  const parsed = parseHash(encoded);
  if ('error' in parsed) throw new Error(`internal: ${parsed.error}`);
  const existed = users.has(name);
  users.set(name, { name, encoded, parsed });
  await writeUsersFile(file, users.values());
  io.stderr.write(`${existed ? 'changed the password of' : 'added'} user "${name}" in ${file} (${users.size} user${users.size === 1 ? '' : 's'})\n`);
  return EXIT.OK;
}
