import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { rssOf } from '../helpers/rss.js';

// Files a user names on the command line or in a topology that are not files: /dev/zero as a test file,
// a CA, a certificate or a users file. Each was read whole into one string first: ~600 MB of memory, then
// "Invalid string length" naming no limit. Now each is read no further than the size such a file can have.

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

async function cli(args: string[]): Promise<{ code: number | null; stderr: string; peakRss: number }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WALRUS_NODES: '' } });
  let stderr = '';
  child.stdout.on('data', (c) => { stderr += String(c); });
  child.stderr.on('data', (c) => { stderr += String(c); });
  let peakRss = 0;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssOf(child.pid!)); }, 10);
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sampler);
  clearTimeout(killer);
  return { code, stderr, peakRss };
}

const CASES: Array<{ name: string; args: string[]; code: number; message: RegExp }> = [
  { name: 'a test file', args: ['test', '/dev/zero'], code: 2, message: /\/dev\/zero:1:1: error: cannot read the test file: it holds more than 67108864 bytes, more than a test file ever does \(stopped reading there\)/ },
  { name: '--tls-ca', args: ['state', 't', '--tls-ca', '/dev/zero', '--nodes', '127.0.0.1:1'], code: 2, message: /--tls-ca: cannot read \/dev\/zero: it holds more than 1048576 bytes, more than a PEM file ever does/ },
  { name: 'the broker\'s --tls-cert', args: ['broker', '--port', '0', '--tls-cert', '/dev/zero', '--tls-key', '/dev/zero'], code: 2, message: /--tls-cert: cannot read \/dev\/zero: it holds more than 1048576 bytes/ },
  { name: 'the broker\'s --users', args: ['broker', '--port', '0', '--users', '/dev/zero'], code: 1, message: /Cannot read the users file \/dev\/zero: it holds more than 16777216 bytes, more than a users file ever does/ },
];

for (const c of CASES) {
  test(`/dev/zero as ${c.name} is refused naming the limit, with memory bounded`, { timeout: 60_000 }, async () => {
    const r = await cli(c.args);
    assert.equal(r.code, c.code, r.stderr);
    assert.match(r.stderr, c.message);
    assert.ok(r.peakRss < 250 * 1024 * 1024, `peak RSS ${Math.round(r.peakRss / 1048576)} MB`);
  });
}
