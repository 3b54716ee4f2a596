// Regenerates the key reference in docs/topology.md from the topology schema.
//   npm run docs:topology            rewrite the generated section
//   npm run docs:topology -- --check exit 1 when it is stale
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spliceReference } from '../src/topology/schema/reference-docs.js';

const file = fileURLToPath(new URL('../docs/topology.md', import.meta.url));
const current = readFileSync(file, 'utf8');
const next = spliceReference(current);
if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('docs/topology.md is stale: run `npm run docs:topology`');
    process.exit(1);
  }
} else if (next !== current) {
  writeFileSync(file, next);
  console.log('docs/topology.md: reference regenerated');
} else {
  console.log('docs/topology.md: up to date');
}
