import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// vitest started on an older Node fails to load the suite yet exits 0: refuse to run at all.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  throw new Error(`Orbit's tests need Node 24 (this is ${process.version}); run them with npm test`);
}

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    // One test file per core: several files at once on the 2-core machines here starved the
    // timing-bound tests (a fresh delivery within 1 s beside a noisy neighbour took 1,065 ms).
    maxWorkers: Math.max(2, Math.min(4, availableParallelism())),
    projects: [
      // Pure code: no database, runs in seconds (`npm run test:unit`).
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'src/**/*.test.ts'] } },
      // Real PostgreSQL (embedded, started once per run in a child process), real HTTP.
      {
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], globalSetup: ['test/support/global-setup.ts'] },
      },
      // The console and portal in Debian's Chromium (playwright-core), against a real Orbit (`npm run test:browser`).
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 90_000,
        },
      },
    ],
  },
});
