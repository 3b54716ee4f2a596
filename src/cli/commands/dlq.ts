import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from '../parse-args.js';
import { topicProblem } from '../../protocol/index.js';
import { EXIT, UsageError, type CliCommand } from '../command.js';
import { FILTER_FIELDS, REPLAY_COUNT_HEADER, addReplayed, replayDeadLetters, type FilterField, type ReplayFilter } from './dlq-replay.js';
import { CONNECT_OPTIONS } from '../connect-options.js';
import { NODES_HELP, cliClient, partitionArg, partitionsArg, selectedTopics } from './state.js';
import type { ReplaySummary } from './dlq-replay.js';

const usage = `Usage: walrus-stream dlq replay <dlq-topic> [options]

Sends dead-lettered records back to the topic they came from (recorded in
each dead-letter entry), or to --to. The original entry is restored
byte-exact; for walrus-stream (envelope) records a "${REPLAY_COUNT_HEADER}"
header is added or incremented on each record (ids, keys, timestamps, other
headers and values unchanged). Plain-text originals (written by other
clients) are restored byte-exact without a header: they have nowhere to
carry one. --exact restores envelopes byte-exact too, without the header.

Entries that do not match the filters, are over -n, or are not dead-letter
entries are put back on the dead-letter topic (at its end). Where the node has
leases (the embedded node by default), a batch is consumed on the node only
after its records were replayed (acknowledged by the target topics) or held
in a local journal to be put back, so an interrupted replay loses nothing:
run the command again and it finishes the job first (some records may be
replayed twice). On a stock node, reads consume at once: each batch goes to
the journal first, and a kill in the moment between the read and that
append can lose that one batch (at most 100 entries).

Options:
  --to <topic>             replay every record to this topic instead of its source
  --filter <field=value>   only replay dead letters whose field equals value;
                           fields: ${FILTER_FIELDS.join(', ')} (error code); repeat to AND them
  -n, --count <n>          replay at most n records
  --exact                  envelopes too: restore the bytes exactly, no replay-count header
  --partitions <n>         the dead-letter topic has n partitions: replay <dlq-topic>.p0 .. .p<n-1> in turn
                           (docs/scaling.md; default 1)
  --partition <i>          replay only <dlq-topic>.p<i>
  --to-partitions <n>      the topics replayed to have n partitions: each record goes to <topic>.p<i>,
                           i = fnv1a32(key) % n (a keyless one by its record id). Dead letters of a
                           partitioned source name its logical topic: give its partitions here
  --state-dir <dir>        where the replay journal lives (default .walrus-stream/dlq-replay/<dlq-topic>;
                           of several partitions, one directory each: <dir>/<dlq-topic>.p<i>)
  --json                   print the summary as JSON
${NODES_HELP}
  -h, --help               show this help
`;

function parseFilter(text: string): ReplayFilter {
  const at = text.indexOf('=');
  const field = text.slice(0, Math.max(at, 0));
  if (at <= 0 || !(FILTER_FIELDS as readonly string[]).includes(field)) {
    throw new UsageError(`--filter expects <field>=<value> with field one of ${FILTER_FIELDS.join(', ')}; got "${text}"`);
  }
  return { field: field as FilterField, value: text.slice(at + 1) };
}

const command: CliCommand = {
  name: 'dlq',
  summary: 'Replay dead-lettered records to their source topic (dlq replay)',
  usage,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub !== 'replay') throw new UsageError(sub === undefined ? 'missing subcommand: dlq replay <dlq-topic>' : `unknown subcommand "${sub}"; the only one is "replay"`);
    const { values, positionals } = parseArgs({
      args: rest,
      options: {
        to: { type: 'string' },
        filter: { type: 'string', multiple: true },
        count: { type: 'string', short: 'n' },
        exact: { type: 'boolean' },
        'state-dir': { type: 'string' },
        json: { type: 'boolean' },
        partitions: { type: 'string' },
        partition: { type: 'string' },
        'to-partitions': { type: 'string' },
        ...CONNECT_OPTIONS,
      },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw new UsageError(`dlq replay takes exactly one <dlq-topic>, got ${positionals.length}`);
    const dlqTopic = positionals[0]!;
    for (const [what, topic] of [['dead-letter topic', dlqTopic], ['--to', values.to]] as const) {
      const problem = topic === undefined ? undefined : topicProblem(topic);
      if (problem !== undefined) throw new UsageError(`${what}: ${problem}`);
    }
    if (values.to === dlqTopic) throw new UsageError('--to must differ from the dead-letter topic (replaying into it would loop)');
    let limit: number | undefined;
    if (values.count !== undefined) {
      if (!/^\d+$/.test(values.count)) throw new UsageError(`-n expects a non-negative integer, got "${values.count}"`);
      limit = Number(values.count);
    }
    const filters = (values.filter ?? []).map(parseFilter);
    const partitions = partitionsArg(values.partitions);
    const targetPartitions = values['to-partitions'] === undefined ? 1 : partitionsArg(values['to-partitions'], '--to-partitions');
    const topics = selectedTopics(dlqTopic, partitions, partitionArg(values.partition, partitions));
    if (values.to !== undefined && topics.includes(values.to)) throw new UsageError('--to must differ from the dead-letter topic (replaying into it would loop)');
    // One replay journal per partition topic: each is a dead-letter topic of its own on the node.
    const stateDirOf = (topic: string) => values['state-dir'] === undefined ? resolve(io.cwd, join('.walrus-stream', 'dlq-replay', topic))
      : topics.length === 1 ? resolve(io.cwd, values['state-dir']) : resolve(io.cwd, values['state-dir'], topic);
    // A file there was "JOURNAL_ERROR: cannot create the journal directory X: EEXIST: file already exists", exit 3.
    if (values['state-dir'] !== undefined) {
      const info = await stat(resolve(io.cwd, values['state-dir'])).catch(() => undefined);
      if (info !== undefined && !info.isDirectory()) {
        throw new UsageError(`--state-dir ${values['state-dir']} is a file, not a directory: give a directory for the replay journal (it is created if missing)`);
      }
    }
    const client = await cliClient(values, io);
    try {
      const summary: ReplaySummary = { replayed: {}, kept: { notMatching: 0, notDeadLetter: 0, overLimit: 0 }, recovered: 0, leased: 0, consumedOnRead: 0 };
      for (const topic of topics) {
        const done = Object.values(summary.replayed).reduce((a, b) => a + b, 0);
        if (limit !== undefined && done >= limit) break; // -n reached: the other partitions are not touched
        const part = await replayDeadLetters({
          client, dlqTopic: topic, to: values.to, filters, limit: limit === undefined ? undefined : Math.max(0, limit - done), exact: values.exact ?? false, targetPartitions, stateDir: stateDirOf(topic),
          onWarning: (message) => io.stderr.write(`walrus-stream dlq: ${message}\n`),
        });
        addSummary(summary, part);
      }
      if (values.json) {
        io.stdout.write(`${JSON.stringify(summary)}\n`);
      } else {
        const targets = Object.entries(summary.replayed).map(([topic, n]) => `${n} → ${topic}`);
        const total = Object.values(summary.replayed).reduce((a, b) => a + b, 0);
        const { notMatching, notDeadLetter, overLimit } = summary.kept;
        io.stdout.write(
          `replayed ${total} record(s)${targets.length > 0 ? ` (${targets.join(', ')})` : ''}; ` +
            `kept ${notMatching + notDeadLetter + overLimit} on ${topics.length === 1 ? topics[0] : `${dlqTopic}'s ${topics.length} partitions`} (${notMatching} not matching, ${overLimit} over -n, ${notDeadLetter} not dead-letter entries)` +
            `${summary.recovered > 0 ? `; finished ${summary.recovered} entries of an interrupted replay` : ''}\n`,
        );
      }
      return EXIT.OK;
    } finally {
      await client.close();
    }
  },
};

/** Adds one partition's replay summary to the total. */
function addSummary(total: ReplaySummary, part: ReplaySummary): void {
  for (const [topic, n] of Object.entries(part.replayed)) addReplayed(total.replayed, topic, n);
  for (const k of ['notMatching', 'notDeadLetter', 'overLimit'] as const) total.kept[k] += part.kept[k];
  total.recovered += part.recovered;
  total.leased += part.leased;
  total.consumedOnRead += part.consumedOnRead;
}

export default command;
