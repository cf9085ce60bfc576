import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Code that must reach the database through services only (docs/architecture.md, "Layers"). */
const DATABASE_PACKAGES = ['drizzle-orm', 'postgres'];

const layer = (from, forbidden, forbiddenPackages = []) => ({
  files: [`src/${from}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          ...forbidden.map((name) => ({
            group: [`**/${name}/*`, `**/${name}.ts`],
            message: `${from}/ may not import ${name}/ (see docs/architecture.md)`,
          })),
          ...forbiddenPackages.map((name) => ({
            group: [name, `${name}/*`],
            message: `${from}/ reaches the database through services/ only (see docs/architecture.md)`,
          })),
        ],
      },
    ],
  },
});

export default tseslint.config(
  { ignores: ['node_modules/', 'migrations/', '.orbit/', '.test-pg/', 'coverage/', 'bench/.data/', 'bench/profiles/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        fetch: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
        performance: 'readonly',
        setImmediate: 'readonly',
        queueMicrotask: 'readonly',
        structuredClone: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Rules that need the type checker: a promise nobody awaits loses its errors; a switch over a
    // closed set must name every member, so adding one to the set is a compile-time to-do list.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },
  {
    // The console's one script runs in browsers (src/ui/assets/console.js).
    files: ['src/ui/assets/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        navigator: 'readonly',
        history: 'readonly',
        getComputedStyle: 'readonly',
        ResizeObserver: 'readonly',
      },
    },
  },
  layer('lib', ['domain', 'db', 'queue', 'sender', 'services', 'api', 'ui', 'worker', 'config']),
  layer('domain', ['db', 'queue', 'sender', 'services', 'api', 'ui', 'worker', 'config']),
  layer('db', ['queue', 'sender', 'services', 'api', 'ui', 'worker', 'config']),
  layer('queue', ['db', 'sender', 'services', 'api', 'ui', 'worker', 'config']),
  layer('sender', ['db', 'queue', 'services', 'api', 'ui', 'worker', 'config']),
  layer('services', ['api', 'ui', 'worker', 'config']),
  layer('api', ['db', 'queue', 'sender', 'worker', 'config'], DATABASE_PACKAGES),
  layer('ui', ['db', 'queue', 'sender', 'worker', 'config'], DATABASE_PACKAGES),
  layer('worker', ['db', 'sender', 'api', 'ui', 'config'], DATABASE_PACKAGES),
);
