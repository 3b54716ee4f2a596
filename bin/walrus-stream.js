#!/usr/bin/env node
// The CLI is TypeScript run through tsx's loader, so the same source serves
// `npm test`, the CLI and processor modules without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
