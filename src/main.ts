/**
 * Orbit's entry point. The module hooks go in before anything loads drizzle-orm (static imports
 * are all resolved before any module runs, hence the dynamic import); the composition root and
 * CLI are in cli.ts.
 */
import { registerModuleHooks } from './process/module-loading.ts';

registerModuleHooks();
await import('./cli.ts');
