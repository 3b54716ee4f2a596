import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WalrusError } from '../../src/errors/index.js';
import { substitute } from '../../src/topology/interpolate.js';
import { loadTopologyText, type Diagnostic } from '../../src/topology/index.js';
import { fileURLToPath } from 'node:url';

// Files are "placed" in the minimal fixture directory so module paths resolve.
const file = fileURLToPath(new URL('../fixtures/topologies/valid/minimal/topology.yaml', import.meta.url));

const body = (app: string, extra = '') =>
  `app: ${app}\n${extra}sources:\n  orders:\n    topic: orders\nprocessors:\n  echo:\n    module: ./echo.js\n    input: orders\n`;

async function errorsOf(text: string, env: Record<string, string>): Promise<string[]> {
  const error = await loadTopologyText(text, file, { env }).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof WalrusError, 'expected the topology to be rejected');
  return (error.context.diagnostics as Diagnostic[]).map((d) => `${d.line}:${d.col}: ${d.message}`);
}

test('substitute: set, unset, empty, defaults, escapes', () => {
  const env = { A: 'x', EMPTY: '', N: '42' };
  assert.deepEqual(substitute('${A}', env), { text: 'x', whole: true });
  assert.deepEqual(substitute('pre-${A}-post', env), { text: 'pre-x-post', whole: false });
  assert.deepEqual(substitute('${A}${N}', env), { text: 'x42', whole: false });
  assert.deepEqual(substitute('${MISSING:-fallback}', env), { text: 'fallback', whole: true });
  assert.deepEqual(substitute('${EMPTY:-fallback}', env), { text: 'fallback', whole: true }, ':- also replaces an empty value');
  assert.deepEqual(substitute('${EMPTY}', env), { text: '', whole: true }, 'a set but empty variable is not missing');
  assert.deepEqual(substitute('${MISSING:-}', env), { text: '', whole: true });
  assert.deepEqual(substitute('${A:-a:-b}', {}), { text: 'a:-b', whole: true }, 'the default runs to the closing brace');
  assert.deepEqual(substitute('$${A}', env), { text: '${A}', whole: false });
  assert.deepEqual(substitute('cost: $5 and $$', env), { text: 'cost: $5 and $$', whole: false });
});

test('substitute: a value is inserted as text, never scanned again', () => {
  assert.deepEqual(substitute('${A}', { A: '${B}', B: 'leak' }), { text: '${B}', whole: true });
  assert.deepEqual(substitute('${A}', { A: '$(rm -rf /)' }), { text: '$(rm -rf /)', whole: true });
});

test('substitute: errors name the variable and say what to do', () => {
  assert.deepEqual(substitute('${ORDERS}', {}), {
    error: 'environment variable ORDERS is not set and "${ORDERS}" has no default; set ORDERS or write ${ORDERS:-default}',
  });
  assert.match((substitute('a ${B', {}) as { error: string }).error, /^unterminated "\$\{" in "a \$\{B"/);
  assert.match((substitute('${}', {}) as { error: string }).error, /^invalid variable name ""/);
  assert.match((substitute('${A-B}', {}) as { error: string }).error, /^invalid variable name "A-B"/);
  assert.match((substitute('${A:-${B}}', {}) as { error: string }).error, /^nested "\$\{" in the default of "\$\{A:-…\}"/);
});

test('plain scalars are re-typed after substitution; quoted ones keep text unless they are one ${...}', async () => {
  const text = body('"${APP}"', 'workers: ${W}\nstateDir: "${DIR}/state"\nobservability:\n  http: ${HTTP:-false}\n  logLevel: \'${LEVEL:-warn}\'\n');
  const { topology } = await loadTopologyText(text, file, { env: { APP: 'demo', W: '6', DIR: '007' } });
  assert.equal(topology.app, 'demo');
  assert.equal(topology.workers, 6);
  assert.ok(topology.stateDir.endsWith('/007/state'), 'a quoted scalar with text around the variable stays a string');
  assert.equal(topology.observability.http, false, 'a plain false becomes the boolean');
  assert.equal(topology.observability.logLevel, 'warn');
});

test('a missing variable without default is an error at the scalar, naming the variable', async () => {
  assert.deepEqual(await errorsOf(body('shop', 'workers: ${WORKERS}\n'), {}), [
    '2:10: environment variable WORKERS is not set and "${WORKERS}" has no default; set WORKERS or write ${WORKERS:-default}',
  ]);
});

test('every interpolation problem is reported, each once, and nothing else at that value', async () => {
  const text = body('${APP_NAME}', 'stateDir: ${STATE\nworkers: ${2X}\n');
  assert.deepEqual(await errorsOf(text, {}), [
    '1:6: environment variable APP_NAME is not set and "${APP_NAME}" has no default; set APP_NAME or write ${APP_NAME:-default}',
    '2:11: unterminated "${" in "${STATE"; close it with "}" or write "$${" for a literal "${"',
    '3:10: invalid variable name "2X" in "${2X}"; use letters, digits and _, not starting with a digit (${NAME} or ${NAME:-default})',
  ]);
});

test('keys are never interpolated; the environment defaults to process.env', async () => {
  process.env.WALRUS_STREAM_TEST_APP = 'from-process-env';
  const { topology } = await loadTopologyText(body('${WALRUS_STREAM_TEST_APP}'), file);
  assert.equal(topology.app, 'from-process-env');
  const errors = await errorsOf(body('shop', '${KEY}: 1\n'), { KEY: 'workers' });
  assert.deepEqual(errors, ['2:1: unknown key "${KEY}" at the top level; allowed keys: app, stateDir, workers, cluster, sources, processors, sinks, stores, observability, workerPool, journal']);
});

test('a key that only takes text keeps the substituted text, whatever it looks like', async () => {
  const text = 'app: ${APP}\nsources:\n  orders:\n    topic: ${TOPIC}\nprocessors:\n  echo:\n    module: ./echo.js\n    input: [orders]\n    outputs: ["${OUT}"]\n    concurrency: "${C}"\n    config: { n: "${C}", s: "n=${C}" }\nsinks:\n  s:\n    topic: out\n    input: echo.${OUT}\n';
  const { topology } = await loadTopologyText(text, file, { env: { APP: '2024', TOPIC: '2024', OUT: 'true', C: '12' } });
  assert.equal(topology.app, '2024');
  assert.equal(topology.sources.orders!.topic, '2024');
  assert.deepEqual(topology.processors.echo!.outputs, ['true']);
  assert.equal(topology.processors.echo!.concurrency, 12);
  assert.deepEqual(topology.processors.echo!.config, { n: 12, s: 'n=12' }, 'free-form config is typed like YAML');
  assert.deepEqual(topology.sinks.s!.input, { processor: 'echo', output: 'true' });
});
