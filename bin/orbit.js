#!/usr/bin/env node
// The bin runs the TypeScript entry point directly; Node 24 strips types itself.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
// V8 sizes the young generation from the machine's memory (128 MiB semi-spaces on 24 GiB): 16 MiB
// keeps a worker's resident memory within bounds at no measurable cost in throughput.
const V8_FLAGS = ['--max-semi-space-size=16'];

if (major >= 24 && V8_FLAGS.every((flag) => process.execArgv.includes(flag))) {
  await import(main);
} else {
  // Re-run with the V8 flags, on the Node 24 that npm installed where the system Node is older.
  const node = major >= 24 ? process.execPath : fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(node)) {
    process.stderr.write(`orbit: needs Node.js 24 (this is ${process.version}); run npm install to get it\n`);
    process.exit(1);
  }
  // Its own process group: a Ctrl+C reaches only this launcher, which passes it on. The IPC
  // channel ends Orbit when this launcher dies, even by SIGKILL (a supervisor's escalation, the
  // OOM killer): Orbit shuts down when the channel closes, and never runs on unsupervised.
  const child = spawn(node, [...V8_FLAGS, main, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('error', (error) => {
    process.stderr.write(`orbit: could not start ${node}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    process.exit(code ?? 128 + (constants.signals[signal] ?? 0));
  });
}
