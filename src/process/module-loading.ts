import { registerHooks } from 'node:module';

const DRIZZLE = '/node_modules/drizzle-orm/';

/**
 * Node's ESM loader finds the format of every `.js` module it loads from the nearest package.json,
 * and hands that package's whole `exports` field to JavaScript as a fresh string each time.
 * drizzle-orm's package.json is 179 KB and Orbit loads a few hundred of its modules: about 150 MB
 * of garbage at start, which grows the young generation and stays resident (loading the worker's
 * modules peaks at 287 MB resident without this hook, 122 MB with it). drizzle-orm is ESM
 * throughout (`"type": "module"`), so its relative `.js` imports are resolved here without the
 * lookup. Everything else goes through Node's resolver unchanged. See docs/architecture.md,
 * "Start-up and memory".
 */
export function registerModuleHooks(): void {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      return resolveWithoutLookup(specifier, context.parentURL) ?? nextResolve(specifier, context);
    },
  });
}

/** What the hook answers for an import: drizzle-orm's own relative `.js` imports; null for the rest. */
export function resolveWithoutLookup(
  specifier: string,
  parentURL: string | undefined,
): { url: string; format: 'module'; shortCircuit: true } | null {
  if (
    parentURL === undefined ||
    !parentURL.includes(DRIZZLE) ||
    !parentURL.endsWith('.js') ||
    !(specifier.startsWith('./') || specifier.startsWith('../')) ||
    !specifier.endsWith('.js')
  ) {
    return null;
  }
  return { url: new URL(specifier, parentURL).href, format: 'module', shortCircuit: true };
}
