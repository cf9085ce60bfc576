#!/usr/bin/env node
// The bin runs the TypeScript entry point directly; Node 24 strips types itself.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
if (major >= 24) {
  await import(main);
} else {
  // An older system Node (npx on a machine with Node 20): re-run on the Node 24 that npm installed.
  const node = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  const child = spawnSync(node, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}
