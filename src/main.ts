/**
 * Orbit's entry point. The module hooks go in before anything loads drizzle-orm (static imports
 * are all resolved before any module runs, hence the dynamic import); the composition root and
 * CLI are in cli.ts.
 */
import { setFlagsFromString } from 'node:v8';
import { registerModuleHooks } from './process/module-loading.ts';

// V8 lets the old generation grow to about four times what survived its last full collection:
// under load the API held ~160 MB of garbage over a few tens live, past 300 MB resident. Twice is
// enough, and costs no throughput (docs/operations.md, "Performance"). A flag given to node wins.
if (!process.execArgv.some((flag) => flag.startsWith('--heap-growing-percent'))) setFlagsFromString('--heap-growing-percent=100');
registerModuleHooks();
await import('./cli.ts');
