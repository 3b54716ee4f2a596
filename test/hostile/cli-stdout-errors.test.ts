import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTempDir } from '../helpers/temp-dir.js';

// A failed write to stdout was an unhandled 'error' event: `graph | head -1`
// (EPIPE) and `schema > /dev/full` (ENOSPC) printed Node's stack trace
// ("node:events … Unhandled 'error' event") and exited 1, in every command
// but consume.

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

/** A chain of processors: `graph --format json` of it is several hundred KB, more than a pipe holds. */
function chain(length: number): string {
  const processors = Array.from({ length }, (_, i) => `  p${i}: { module: ./p.mjs, input: ${i === 0 ? 's' : `p${i - 1}`} }`);
  return `app: a\nsources:\n  s: { topic: in }\nprocessors:\n${processors.join('\n')}\nsinks:\n  o: { topic: out, input: p${length - 1} }\n`;
}

const PROCESSOR = "export default { [Symbol.for('walrus-stream.processor')]: true, process: (r) => r.value };\n";

function finish(child: ReturnType<typeof spawn>): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

test('stdout on a full disk (/dev/full): one line naming standard output and what to do, exit 3, no stack trace — for schema, graph, validate and --help', { timeout: 60_000 }, async () => {
  await withTempDir('walrus-cli-stdout-', async (dir) => {
    await writeFile(join(dir, 'topology.yaml'), chain(3));
    await writeFile(join(dir, 'p.mjs'), PROCESSOR);
    const cases: Array<{ args: string[]; name: string; code: number }> = [
      { args: ['schema'], name: 'walrus-stream schema', code: 3 },
      { args: ['graph', '--format', 'json'], name: 'walrus-stream graph', code: 3 },
      { args: ['validate', '--no-modules', '--format', 'json'], name: 'walrus-stream validate', code: 3 },
      { args: ['--help'], name: 'walrus-stream', code: 3 },
    ];
    for (const c of cases) {
      const full = openSync('/dev/full', 'w');
      try {
        const result = await finish(spawn(process.execPath, [BIN, ...c.args], { cwd: dir, stdio: ['ignore', full, 'pipe'] }));
        assert.equal(result.code, c.code, `${c.args.join(' ')}: ${result.stderr}`);
        assert.doesNotMatch(result.stderr, /Unhandled 'error' event|\n\s+at /, c.args.join(' '));
        assert.match(result.stderr, new RegExp(`^${c.name}: cannot write to standard output \\(ENOSPC: no space left on device, write\\); the disk \\(or quota\\) behind it is full: .*run the command again\\n$`));
      } finally {
        closeSync(full);
      }
    }
  });
});

test('stdout closed by its reader (`graph | head -1`, EPIPE) ends the command quietly with its own exit code', { timeout: 60_000 }, async () => {
  await withTempDir('walrus-cli-epipe-', async (dir) => {
    await writeFile(join(dir, 'topology.yaml'), chain(400));
    await writeFile(join(dir, 'p.mjs'), PROCESSOR);
    await writeFile(join(dir, 'broken.yaml'), 'app: a\n');
    for (const [args, code] of [[['graph', '--format', 'json'], 0], [['schema'], 0], [['validate', 'broken.yaml', '--format', 'json'], 1]] as const) {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      // The reader goes away before the command writes a byte: its first write fails with EPIPE.
      child.stdout!.destroy();
      const result = await finish(child);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      assert.doesNotMatch(result.stderr, /EPIPE|Unhandled|\n\s+at /, args.join(' '));
    }
  });
});
