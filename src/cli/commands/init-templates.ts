/**
 * The files `walrus-stream init` writes: a project a user runs with
 * `npm install && npm start` and checks with `npm test`. Kept apart from the
 * command so the scaffold reads as what it is, a small project.
 */

/** One scaffolded file: path relative to the project directory, and its text. */
export interface ScaffoldFile {
  path: string;
  text: string;
}

const TOPOLOGY = `# yaml-language-server: $schema=./node_modules/walrus-stream/schema/topology.schema.json
#
# Events (JSON lines) are read from the \`events\` topic, tagged by the
# \`enrich\` processor, and written to \`events.enriched\`. With no \`cluster.nodes\`,
# walrus-stream starts an embedded node that keeps its data under stateDir.
app: __APP__
stateDir: \${WALRUS_STATE_DIR:-.walrus-stream}

cluster:
  embedded:
    dataDir: \${WALRUS_STATE_DIR:-.walrus-stream}/node   # so WALRUS_STATE_DIR moves the node's data too

sources:
  events:
    topic: events
    format: text          # plain JSON lines, as any Walrus client writes them
    serializer: string

processors:
  enrich:
    module: ./processors/enrich.ts
    input: events
    deadLetter: events.dlq   # malformed lines land here with the reason
    config:
      bigAmount: 100

sinks:
  enriched:
    topic: events.enriched
    input: enrich

observability:
  logLevel: warn
`;

const PROCESSOR = `import { defineProcessor, NonRetriableError } from 'walrus-stream/processor';

/** One input line. */
interface Event {
  id: string;
  user: string;
  amount: number;
}

/** What this processor emits. */
interface Enriched extends Event {
  size: 'big' | 'small';
}

function parse(line: string): Event {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    // A line that is not JSON never will be: dead-letter it at once, with the reason.
    throw new NonRetriableError(\`not JSON: \${(error as Error).message}\`);
  }
  if (typeof value !== 'object' || value === null) throw new NonRetriableError('not a JSON object');
  const { id, user, amount } = value as Record<string, unknown>;
  if (typeof id !== 'string' || typeof user !== 'string' || typeof amount !== 'number') {
    throw new NonRetriableError('expected {"id": string, "user": string, "amount": number}');
  }
  return { id, user, amount };
}

export default defineProcessor<string, Enriched>({
  process(record, ctx) {
    const event = parse(record.value);
    const bigAmount = Number(ctx.config.bigAmount ?? 100);
    return { ...event, size: event.amount >= bigAmount ? 'big' : 'small' };
  },
});
`;

const EVENTS = [
  { id: 'e-1', user: 'ada', amount: 12.5 },
  { id: 'e-2', user: 'grace', amount: 240 },
  { id: 'e-3', user: 'linus', amount: 99.99 },
  { id: 'e-4', user: 'ada', amount: 180 },
  { id: 'e-5', user: 'barbara', amount: 3 },
].map((e) => JSON.stringify(e)).join('\n') + '\nthis line is not JSON\n';

// The seam for the topology test kit: once walrus-stream ships one, the body
// of runTopology() becomes a call to it; the assertions stay.
const TEST = `// Runs the topology on the sample input with an embedded node in a temporary
// directory, and checks what came out. \`npm test\` runs it (node:test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const project = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(dirname(createRequire(import.meta.url).resolve('walrus-stream/package.json')), 'bin', 'walrus-stream.js');

/** Runs \`walrus-stream run --until-idle\` and returns its JSON summary. */
async function runTopology(seedFile) {
  const stateDir = await mkdtemp(join(tmpdir(), 'walrus-test-'));
  try {
    const args = [bin, 'run', 'topology.yaml', '--until-idle', '--json', '--seed', \`events=\${seedFile}\`];
    const stdout = await new Promise((resolve, reject) => {
      execFile(process.execPath, args, { cwd: project, env: { ...process.env, WALRUS_STATE_DIR: stateDir }, timeout: 60_000 },
        (error, out, err) => (error ? reject(new Error(\`\${error.message}\\n\${err}\`)) : resolve(out)));
    });
    return JSON.parse(stdout);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

test('the sample events are enriched, and the bad line is dead-lettered', { timeout: 90_000 }, async () => {
  const summary = await runTopology('data/events.jsonl');
  assert.equal(summary.sources.events.records, 6);
  assert.equal(summary.processors.enrich.processed, 5);
  assert.equal(summary.sinks.enriched.records, 5);
  assert.equal(summary.deadLetters['events.dlq'], 1);
});
`;

const TSCONFIG = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "noUncheckedIndexedAccess": true,
    "exactOptionalPropertyTypes": true,
    "skipLibCheck": true,
    "noEmit": true
  },
  "include": ["processors"]
}
`;

const TEST_CASES = `# Test cases of topology.yaml, run by \`npm test\` (walrus-stream test): each
# case pipes its input into a fresh pipeline — no node, no sockets — and
# checks what each sink received and what was dead-lettered. Format:
# node_modules/walrus-stream/docs/testing.md.
tests:
  - name: events are tagged big or small by amount
    input:
      events:
        - value: { id: e-1, user: ada, amount: 12.5 }
        - value: { id: e-2, user: grace, amount: 240 }
    expect:
      sinks:
        enriched:
          - { value: { id: e-1, size: small } }
          - { value: { id: e-2, size: big } }

  - name: a line that is not an event is dead-lettered with the reason
    input:
      events:
        - value: "not json"
        - value: { id: e-3, user: linus }
    expect:
      sinks:
        enriched: []
      deadLetters:
        order: any
        records:
          - { processor: enrich, code: NON_RETRIABLE, message: "not JSON" }
          - { processor: enrich, code: NON_RETRIABLE, message: "expected" }
`;

const README = `# __APP__

A [walrus-stream](https://www.npmjs.com/package/walrus-stream) pipeline.

\`\`\`sh
npm install
npm start      # runs topology.yaml on data/events.jsonl, with an embedded node
npm test       # the test cases of topology.test.yaml (walrus-stream test), then test/*.test.mjs
\`\`\`

- \`topology.yaml\` wires the \`events\` topic through \`processors/enrich.ts\` to
  \`events.enriched\`. Your editor completes and checks it through the
  \`$schema\` comment on its first line.
- \`processors/*.ts\` are TypeScript (or JavaScript); each default-exports
  \`defineProcessor({...})\`. walrus-stream loads them as they are, no build step.
- \`npx walrus-stream validate\` checks the topology and loads every processor;
  \`npx walrus-stream --help\` lists the other commands.
- For type checks of the processors: \`npm install -D typescript @types/node && npx tsc\`.

To read from a real Walrus cluster instead of the embedded node, add
\`cluster: { nodes: [host:port, ...] }\` to \`topology.yaml\`.
`;

const GITIGNORE = `node_modules/
.walrus-stream/
`;

/** The scaffold's package.json fields (init --force merges them into an existing one: init-package.ts). */
export function scaffoldPackage(app: string, version: string): Record<string, unknown> {
  return {
    name: app,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      start: 'walrus-stream run topology.yaml --until-idle --seed events=data/events.jsonl',
      validate: 'walrus-stream validate topology.yaml',
      test: 'walrus-stream test && node --test',
    },
    dependencies: { 'walrus-stream': `^${version}` },
  };
}

/** Every file of the scaffold, for an app named `app` depending on walrus-stream `version`. */
export function scaffoldFiles(app: string, version: string): ScaffoldFile[] {
  const pkg = scaffoldPackage(app, version);
  return [
    { path: 'package.json', text: `${JSON.stringify(pkg, null, 2)}\n` },
    { path: 'topology.yaml', text: TOPOLOGY.replace('__APP__', app) },
    { path: 'processors/enrich.ts', text: PROCESSOR },
    { path: 'data/events.jsonl', text: EVENTS },
    { path: 'topology.test.yaml', text: TEST_CASES },
    { path: 'test/topology.test.mjs', text: TEST },
    { path: 'tsconfig.json', text: TSCONFIG },
    { path: 'README.md', text: README.replace('__APP__', app) },
    { path: '.gitignore', text: GITIGNORE },
  ];
}
