import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { loadTopology } from '../../src/topology/index.js';
import { tempDir } from '../helpers/auth.js';
import { runCli } from '../helpers/cli-in-process.js';

/** `cluster.auth` / `cluster.tls` in topology.yaml: interpolated, checked, never shown. */
const SECRET = 'Sup3r-secret pass';

async function topologyDir(cluster: string): Promise<{ dir: string; file: string; remove: () => Promise<void> }> {
  const t = await tempDir('walrus-topology-');
  await writeFile(join(t.dir, 'echo.js'), "export default { process: (r) => r };\n");
  const file = join(t.dir, 'topology.yaml');
  await writeFile(file, `app: guarded\ncluster:\n${cluster}\nsources:\n  orders:\n    topic: orders\nprocessors:\n  echo:\n    module: ./echo.js\n    input: orders\n`);
  return { ...t, file };
}

test('cluster.auth takes ${ENV}, keeps the password as text, and hides it from printing', async () => {
  const t = await topologyDir('  nodes: [walrus-1:9091]\n  auth:\n    username: ${WALRUS_USER}\n    password: ${WALRUS_PASSWORD}\n  tls:\n    ca: certs/ca.pem\n    serverName: walrus.internal');
  try {
    const { topology } = await loadTopology(t.file, { env: { WALRUS_USER: 'pipeline', WALRUS_PASSWORD: SECRET }, loadModules: false });
    assert.equal(topology.cluster.auth?.username, 'pipeline');
    assert.equal(topology.cluster.auth?.password, SECRET);
    assert.equal(topology.cluster.tls?.ca, join(t.dir, 'certs/ca.pem'));
    assert.equal(topology.cluster.tls?.serverName, 'walrus.internal');
    assert.ok(!JSON.stringify(topology).includes(SECRET));
    assert.ok(!inspect(topology, { depth: 10 }).includes(SECRET));
    // A numeric password from the environment stays text (the key only takes text).
    const numeric = await loadTopology(t.file, { env: { WALRUS_USER: 'pipeline', WALRUS_PASSWORD: '123456' }, loadModules: false });
    assert.equal(numeric.topology.cluster.auth?.password, '123456');

    for (const args of [['validate', t.file, '--no-modules'], ['validate', t.file, '--no-modules', '--format', 'json'], ['graph', t.file], ['graph', t.file, '--format', 'json']]) {
      const r = await runCli(args, { env: { WALRUS_USER: 'pipeline', WALRUS_PASSWORD: SECRET } });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(!(r.stdout + r.stderr).includes(SECRET), `${args.join(' ')} printed the password`);
    }
  } finally {
    await t.remove();
  }
});

test('a bad password is reported at its line without showing it', async () => {
  const t = await topologyDir('  nodes: [walrus-1:9091]\n  auth:\n    username: pipeline\n    password: 987654321');
  const u = await topologyDir('  nodes: [walrus-1:9091]\n  auth:\n    username: pipeline\n    password: "hunter2 "\n  tls:\n    cert: client.pem');
  try {
    const r = await runCli(['validate', t.file, '--no-modules']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /topology\.yaml:6:\d+: error: cluster\.auth\.password: expected a string \(the value is not shown/);
    assert.ok(!r.stderr.includes('987654321'));
    const v = await runCli(['validate', u.file, '--no-modules']);
    assert.equal(v.code, 1);
    assert.match(v.stderr, /cluster\.auth\.password: the password ends in whitespace/);
    assert.match(v.stderr, /missing required key "key" in cluster\.tls/);
    assert.ok(!v.stderr.includes('hunter2'));
  } finally {
    await t.remove();
    await u.remove();
  }
});
