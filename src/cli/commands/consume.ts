import { parseArgs } from '../parse-args.js';
import type { Lease } from '../../client/index.js';
import { decodeEntry, type DecodedRecord, type WalrusRecord } from '../../codec/index.js';
import { EXIT, UsageError, type CliCommand } from '../command.js';
import { CONNECT_OPTIONS } from '../connect-options.js';
import { NODES_HELP, cliClient, partitionsArg, topicArg } from './state.js';
import { partitionTopics } from '../../codec/partitioning.js';

const usage = `Usage: walrus-stream consume <topic> [options]

Reads records from a topic and prints them, one per line. Records printed
here are gone for other readers of the same node. On a node with leases
(the embedded node) a batch of entries is acknowledged only once all its
records were written to stdout: if stdout closes (\`consume | head -1\`) or
consume dies first, the node gives the batch to the next reader (records of
it already printed come again). Records written into a pipe count as
printed. A stock node has no leases: reading removes entries, so consume
reads 16 at a time and loses at most those if it dies before printing them.
A closed stdout ends consume with exit code 0.

  --format text   each value exactly as produced, then a newline
  --format json   one JSON object per line: {id, key, timestamp, headers, value}
                  (value parsed when labelled and valid JSON, else a string when it is UTF-8,
                  else "valueBase64")

Options:
  -n, --count <n>          stop after n records (a record batch is finished, never dropped)
  -f, --follow             keep polling for new records until interrupted
  --format <f>             text | json (default text)
  --partitions <n>         the topic has n partitions: read all of <topic>.p0 … <topic>.p<n-1>
                           (docs/scaling.md; default 1, the topic itself)
${NODES_HELP}
  -h, --help               show this help

Without --follow it exits once the topic is empty; SIGINT / SIGTERM end it
with exit 130 / 143 after the batch in hand is printed and acknowledged.
`;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A value labelled JSON that is not JSON is printed as the string it is, like any other UTF-8 value. */
function parsedOr(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function jsonLine(r: Pick<WalrusRecord<Uint8Array>, 'id' | 'key' | 'timestamp' | 'headers'> & { value: Uint8Array }): string {
  const out: Record<string, unknown> = { id: r.id, timestamp: r.timestamp, headers: r.headers };
  if (r.key !== undefined) out.key = r.key;
  let text: string | undefined;
  try {
    text = utf8.decode(r.value);
  } catch {
    text = undefined;
  }
  if (text === undefined) out.valueBase64 = Buffer.from(r.value).toString('base64');
  else out.value = (r.headers['content-type'] ?? '').startsWith('application/json') ? parsedOr(text) : text;
  return `${JSON.stringify(out)}\n`;
}

const command: CliCommand = {
  name: 'consume',
  summary: 'Print the records of a topic',
  usage,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        count: { type: 'string', short: 'n' },
        follow: { type: 'boolean', short: 'f' },
        format: { type: 'string', default: 'text' },
        partitions: { type: 'string', default: '1' },
        ...CONNECT_OPTIONS,
      },
      strict: true,
      allowPositionals: true,
    });
    const topic = topicArg(positionals, 'consume');
    const format = values.format;
    if (format !== 'text' && format !== 'json') throw new UsageError(`--format expects text or json, got "${format}"`);
    let count: number | undefined;
    if (values.count !== undefined) {
      if (!/^\d+$/.test(values.count)) throw new UsageError(`-n expects a non-negative integer, got "${values.count}"`);
      count = Number(values.count);
    }
    const partitions = partitionsArg(values.partitions);
    const client = await cliClient(values, io);
    let broken = 0;
    let printed = 0;
    let extra = 0;
    /** Entries read (leased or fetched) but not yet printed, over all partitions: -n never asks for more than it needs. */
    let pending = 0;
    let signal: 'SIGINT' | 'SIGTERM' | undefined;
    let closedPipe = false;
    const stopping = new AbortController();
    const onSigint = () => { signal ??= 'SIGINT'; stopping.abort(); };
    const onSigterm = () => { signal ??= 'SIGTERM'; stopping.abort(); };
    // A closed stdout (`consume | head -1`: EPIPE) ends the run quietly; what
    // was not written is not acknowledged, so it stays for the next reader.
    const onStdoutError = () => { closedPipe = true; stopping.abort(); };
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
    io.stdout.on('error', onStdoutError);
    const format1 = (r: DecodedRecord): string | Buffer => (format === 'text' ? Buffer.concat([r.value, NEWLINE]) : jsonLine(r));
    /** Writes the chunks; resolves once stdout took all of them (write callback), rejects if it is closed. */
    const write = (chunks: (string | Buffer)[]): Promise<void> => new Promise<void>((resolve, reject) => {
      if (closedPipe) { reject(new Error('stdout is closed')); return; }
      if (chunks.length === 0) { resolve(); return; }
      for (let i = 0; i < chunks.length - 1; i++) io.stdout.write(chunks[i]!);
      io.stdout.write(chunks[chunks.length - 1]!, (error) => (error ? reject(error) : resolve()));
    });
    // A partitioned topic is read as one loop per partition topic, all at
    // once: records of one key keep their order (a key lives in one partition);
    // records of different partitions interleave.
    const read = async (t: string): Promise<void> => {
      // Delivery rule: on a node with leases (BATCH_LEASE) a batch of entries
      // is acknowledged only once all its records were written to stdout; a
      // closed pipe, a crash or a failure leaves it unacknowledged and the node
      // delivers it to the next reader when this connection closes. A stock
      // node has no leases: GET consumes on read, so read few entries at once.
      let batch = STOCK_BATCH;
      let delay = 1;
      await client.register(t); // as the Consumer does: a topic not written yet reads as empty
      while (!stopping.signal.aborted) {
        const need = count === undefined ? batch : Math.min(batch, count - printed - pending);
        if (need <= 0) return;
        pending += need;
        let lease: Lease;
        try {
          lease = await client.lease(t, need);
        } finally {
          pending -= need;
        }
        if (lease.leased) batch = LEASE_BATCH;
        if (lease.entries.length === 0) {
          if (!values.follow) return;
          await sleep(delay, stopping.signal);
          delay = Math.min(delay * 2, MAX_POLL_MS);
          continue;
        }
        delay = 1;
        const chunks: (string | Buffer)[] = [];
        let records = 0;
        for (const entry of lease.entries) {
          let decoded: DecodedRecord[];
          try {
            decoded = decodeEntry(entry, { topic: t });
          } catch (error) {
            broken++;
            io.stderr.write(`walrus-stream consume: skipped an entry that could not be decoded: ${(error as Error).message}\n`);
            continue;
          }
          for (const r of decoded) chunks.push(format1(r));
          const before = printed + records;
          records += decoded.length;
          if (count !== undefined && before < count && before + decoded.length > count) extra += before + decoded.length - count;
        }
        try {
          await write(chunks);
        } catch {
          closedPipe = true;
          stopping.abort();
          return; // not acknowledged: released when the client closes
        }
        printed += records;
        await lease.ack();
      }
    };
    try {
      await Promise.all(partitionTopics(topic, partitions).map(read));
      if (extra > 0) {
        io.stderr.write(`walrus-stream consume: printed ${extra} more record(s): they arrived in the same batch as the last of -n ${count}, and a batch is read and acknowledged whole.\n`);
      }
    } finally {
      process.removeListener('SIGINT', onSigint);
      process.removeListener('SIGTERM', onSigterm);
      // Keep swallowing stdout errors once the pipe closed (a late EPIPE must not crash the process).
      if (!closedPipe) io.stdout.removeListener('error', onStdoutError);
      await client.close();
    }
    // After a signal, what was leased was printed and acknowledged first (128 + signal number, like produce).
    if (signal === 'SIGINT') return EXIT.INTERRUPTED;
    if (signal === 'SIGTERM') return EXIT.TERMINATED;
    return broken > 0 ? EXIT.FAILURE : EXIT.OK;
  },
};

/** Entries per BATCH_LEASE: acknowledged together once printed. */
const LEASE_BATCH = 256;
/** Entries per read without leases (stock node): at most these are lost if consume dies before printing them. */
const STOCK_BATCH = 16;
const MAX_POLL_MS = 200;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) { resolve(); return; }
    const done = () => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(); };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const NEWLINE = Buffer.from('\n');

export default command;
