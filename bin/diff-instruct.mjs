#!/usr/bin/env node
// The diff-instruct CLI. Sources are TypeScript run through tsx (no build step), so the CLI, the
// library and the tests all execute the same files.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
