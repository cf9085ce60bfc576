/**
 * Loads drizzle-orm as Orbit does, with a resolve hook that asks Node's own resolver about every
 * import and compares its answer with the one src/process/module-loading.ts gives without the
 * package.json lookup. Prints `{ checked, mismatches }` as JSON.
 */
import { registerHooks } from 'node:module';
import { resolveWithoutLookup } from '../../src/process/module-loading.ts';

let checked = 0;
const mismatches: { specifier: string; parent: string | undefined; node: string; ours: string }[] = [];

registerHooks({
  resolve(specifier, context, nextResolve) {
    const node = nextResolve(specifier, context);
    const ours = resolveWithoutLookup(specifier, context.parentURL);
    if (ours !== null) {
      checked++;
      if (ours.url !== node.url || ours.format !== node.format) {
        mismatches.push({
          specifier,
          parent: context.parentURL,
          node: `${node.url} (${node.format})`,
          ours: `${ours.url} (${ours.format})`,
        });
      }
    }
    return node;
  },
});

await import('../../src/db/client.ts');
await import('drizzle-orm');
await import('drizzle-orm/pg-core');
process.stdout.write(`${JSON.stringify({ checked, mismatches })}\n`);
