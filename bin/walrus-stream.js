#!/usr/bin/env node
// The CLI runs compiled (dist/, built by `npm run build`, which `npm ci` and
// `npm pack` run through `prepare`): no TypeScript loader at start-up. A
// source checkout that was never built falls back to the sources through tsx.
import { existsSync } from 'node:fs';

const built = new URL('../dist/esm/cli/main.js', import.meta.url);
let cli;
if (existsSync(built)) {
  cli = await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../src/cli/main.ts');
}
process.exitCode = await cli.runFromProcess();
