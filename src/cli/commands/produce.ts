import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from '../parse-args.js';
import { Producer } from '../../client/index.js';
import { WalrusError } from '../../errors/index.js';
import type { CompressionCodec } from '../../codec/index.js';
import { maxPayloadBytes } from '../../protocol/index.js';
import { EXIT, UsageError, type CliCommand } from '../command.js';
import { CONNECT_OPTIONS } from '../connect-options.js';
import { LineTooLongError, lines } from '../../util/lines.js';
import { NODES_HELP, cliClient, partitionsArg, topicArg } from './state.js';

export { LineTooLongError, lines };

const usage = `Usage: walrus-stream produce <topic> [options]

Writes records to a topic from stdin (or --file), one record per line.

  --format text   each line is one record, kept byte for byte (trailing
                  whitespace, \\r, any bytes); the newline ends the record
  --format json   each non-blank line is one JSON value (JSON Lines)

Records go in the walrus-stream envelope unless --plain is given; --plain
writes each line as a bare Walrus entry for other clients, and refuses lines
the node would alter (empty, trailing whitespace, not UTF-8).

Options:
  --file <path>            read records from this file instead of stdin
  --format <f>             text | json (default text)
  --key-field <field>      json: use this field of each value as the record key (dots for nesting: a.b)
  --plain                  write bare entries instead of the envelope
  --envelope               write the envelope (the default)
  --compression <c>        none | gzip | brotli (envelope only; default none)
  --partitions <n>         the topic has n partitions: write <topic>.p<i>, i = fnv1a32(key) % n,
                           keyless records round-robin (docs/scaling.md; default 1)
${NODES_HELP}
  -h, --help               show this help

Stops at the first bad line and says which; the lines before it are written.
A line longer than one entry can hold (65,536 bytes minus the command and
topic; 8 MiB with --compression) is refused as soon as it passes that
length, without reading the rest of it: memory stays bounded whatever the
input.
`;


/** Bytes the producer may hold unacknowledged before `produce` waits for its writes (half its default maxBufferedBytes). */
const PRODUCE_HIGH_WATER_BYTES = 32 * 1024 * 1024;
/**
 * Longest line accepted with --compression: its compressed entry must still
 * fit one frame, and reading further would only grow memory for a record
 * that is all but certain not to fit.
 */
export const MAX_COMPRESSIBLE_LINE_BYTES = 8 * 1024 * 1024;

function keyOf(value: unknown, path: string[]): string | undefined {
  let at: unknown = value;
  for (const part of path) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, part)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  if (at === undefined || at === null) return undefined;
  return typeof at === 'string' ? at : JSON.stringify(at);
}

class LineError extends Error {}

const command: CliCommand = {
  name: 'produce',
  summary: 'Write records to a topic from stdin or a file',
  usage,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        file: { type: 'string' },
        format: { type: 'string', default: 'text' },
        'key-field': { type: 'string' },
        plain: { type: 'boolean' },
        envelope: { type: 'boolean' },
        compression: { type: 'string', default: 'none' },
        partitions: { type: 'string', default: '1' },
        ...CONNECT_OPTIONS,
      },
      strict: true,
      allowPositionals: true,
    });
    const topic = topicArg(positionals, 'produce');
    const format = values.format;
    if (format !== 'text' && format !== 'json') throw new UsageError(`--format expects text or json, got "${format}"`);
    if (values.plain && values.envelope) throw new UsageError('--plain and --envelope exclude each other');
    if (values['key-field'] !== undefined && format !== 'json') throw new UsageError('--key-field needs --format json');
    if (values['key-field'] !== undefined && values.plain) throw new UsageError('--key-field needs the envelope: plain entries have no key');
    const compression = values.compression as CompressionCodec;
    if (!['none', 'gzip', 'brotli'].includes(compression)) throw new UsageError(`--compression expects none, gzip or brotli, got "${compression}"`);
    if (values.plain && compression !== 'none') throw new UsageError('--compression needs the envelope');
    const keyPath = values['key-field']?.split('.');
    const partitions = partitionsArg(values.partitions);

    const client = await cliClient(values, io);
    const json = format === 'json' && !values.plain;
    const producer = new Producer<unknown>(client, {
      topic,
      partitions,
      serializer: json ? 'json' : 'raw',
      format: values.plain ? 'text' : 'envelope',
      compression,
      linger: { maxRecords: 2000, maxBytes: 1 << 20, maxWaitMs: 5 },
    });
    const fileInput = values.file === undefined ? undefined : createReadStream(resolve(io.cwd, values.file));
    let readError: unknown;
    fileInput?.once('error', (error) => { readError = error; });
    const input = fileInput ?? io.stdin;
    let lineNo = 0;
    let queued = 0;
    let last: Promise<void> = Promise.resolve();
    try {
      // Without compression a record can never be longer than one entry's payload.
      const maxLine = compression === 'none' ? maxPayloadBytes(topic) : MAX_COMPRESSIBLE_LINE_BYTES;
      for await (const line of lines(input as AsyncIterable<Buffer>, maxLine)) {
        lineNo++;
        let value: unknown = line;
        let key: string | undefined;
        if (format === 'json') {
          const text = line.toString('utf8');
          if (text.trim() === '') continue;
          try {
            value = JSON.parse(text);
          } catch (error) {
            throw new LineError(`line ${lineNo}: not valid JSON (${(error as Error).message})`);
          }
          if (keyPath) {
            key = keyOf(value, keyPath);
            if (key === undefined) throw new LineError(`line ${lineNo}: the value has no field "${values['key-field']}" for the key`);
          }
          if (!json) value = line;
        }
        const sent = producer.send(value, key === undefined ? {} : { key });
        // Checks at send time (size, plain-text rules) reject at once: the
        // race sees that without waiting for the write.
        try {
          await Promise.race([sent, undefined]);
        } catch (error) {
          throw new LineError(`line ${lineNo}: ${error instanceof WalrusError ? `${error.code}: ` : ''}${(error as Error).message}`);
        }
        queued++;
        last = sent;
        // Bound memory on large inputs: wait for a write now and then, and
        // well before the producer's maxBufferedBytes (64 MiB) would refuse a send.
        if (queued % 20_000 === 0 || producer.bufferedBytes >= PRODUCE_HIGH_WATER_BYTES) await last;
      }
      await producer.close();
    } catch (error) {
      await producer.close().catch(() => undefined);
      const written = producer.stats.records;
      if (error instanceof LineTooLongError) {
        io.stderr.write(`walrus-stream produce: ${error.message} (${compression === 'none' ? 'one Walrus entry; try --compression gzip for compressible text' : 'the limit with --compression'}); stopped reading there.\n` +
          `${written} record(s) before that line were written to ${topic}.\n`);
        return EXIT.INVALID;
      }
      if (error instanceof LineError) {
        io.stderr.write(`walrus-stream produce: ${error.message}\nStopped there: ${written} record(s) before that line were written to ${topic}.\n`);
        return EXIT.INVALID;
      }
      // The input file could not be opened or read (missing, a directory, no permission): name the flag and the file.
      if (readError !== undefined && error === readError) {
        throw new UsageError(`--file ${values.file}: cannot read it (${(error as Error).message}); ${written} record(s) were written before`);
      }
      io.stderr.write(`walrus-stream produce: ${written} of ${queued} record(s) were acknowledged before the failure.\n`);
      throw error;
    } finally {
      await client.close();
    }
    const s = producer.stats;
    io.stderr.write(`produced ${s.records} record(s) to ${topic} in ${s.entries} entr${s.entries === 1 ? 'y' : 'ies'} (${s.bytes} bytes)\n`);
    return EXIT.OK;
  },
};

export default command;
