import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from '../parse-args.js';
import { EXIT, UsageError, type CliCommand } from '../command.js';
import { topologyJsonSchemaText } from '../../topology/schema/json-schema.js';

const usage = `Usage: walrus-stream schema [options]

Prints the JSON Schema of topology.yaml, generated from the same zod schema
that validates it. Point your editor at it for completion and inline errors:

  # yaml-language-server: $schema=./schema/topology.schema.json

Options:
  -o, --output <file>   write the schema to a file instead of stdout
  -h, --help            show this help
`;

const command: CliCommand = {
  name: 'schema',
  summary: 'Print the JSON Schema of topology.yaml (for editors)',
  usage,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, options: { output: { type: 'string', short: 'o' } }, allowPositionals: true, strict: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    // `-o "$OUT"` with OUT unset wrote to stdout instead of the file the script meant.
    if (values.output === '') throw new UsageError('-o/--output expects a file name, got ""; leave it out to write to stdout');
    const text = topologyJsonSchemaText();
    if (values.output) {
      const target = resolve(io.cwd, values.output);
      await writeFile(target, text);
      io.stderr.write(`wrote ${values.output}\n`);
    } else {
      io.stdout.write(text);
    }
    return EXIT.OK;
  },
};

export default command;
