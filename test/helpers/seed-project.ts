import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root (what a user project's `walrus-stream` dependency points at). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A user project in a new temp dir for `walrus-stream run --seed`: a topology
 * (app `app`, state under ./state, an embedded node) whose source `in` (topic
 * seed-in, text lines) feeds an echo processor, and walrus-stream in its
 * node_modules (a link to this checkout). The caller removes the dir.
 */
export async function seedProject(app: string, prefix = `walrus-${app}-`): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(dir, 'topology.yaml'), [
    `app: ${app}`, 'stateDir: ./state', 'workers: 1', 'cluster:', '  embedded:', '    dataDir: ./state/node',
    'sources:', '  in: { topic: seed-in, format: text, serializer: string }',
    'processors:', '  echo: { module: ./echo.mjs, input: in }', '',
  ].join('\n'));
  await mkdir(join(dir, 'node_modules'));
  await symlink(ROOT, join(dir, 'node_modules', 'walrus-stream'), 'dir');
  await writeFile(join(dir, 'echo.mjs'), "import { defineProcessor } from 'walrus-stream/processor';\nexport default defineProcessor({ process: (record) => record.value });\n");
  return dir;
}

/** Runs the built CLI (`bin/walrus-stream.js`) in `dir` as a child process; killed after `killAfterMs`. */
export function runBuiltCli(dir: string, args: string[], killAfterMs = 40_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'walrus-stream.js'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += String(c); });
  child.stderr.on('data', (c) => { stderr += String(c); });
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) => child.once('close', (code) => { clearTimeout(killer); resolve({ code, stdout, stderr }); }));
}
