import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (from, forbidden) => ({
  files: [`src/${from}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: forbidden.map((name) => ({
          group: [`**/${name}/*`, `**/${name}.ts`],
          message: `${from}/ may not import ${name}/ (see ARCHITECTURE.md)`,
        })),
      },
    ],
  },
});

export default tseslint.config(
  { ignores: ['node_modules/', 'migrations/', '.orbit/', '.test-pg/', 'coverage/', 'bench/.data/'] },
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
  layer('lib', ['domain', 'db', 'queue', 'sender', 'services', 'api', 'worker', 'config']),
  layer('domain', ['db', 'queue', 'sender', 'services', 'api', 'worker', 'config']),
  layer('db', ['queue', 'sender', 'services', 'api', 'worker', 'config']),
  layer('queue', ['db', 'sender', 'services', 'api', 'worker', 'config']),
  layer('sender', ['db', 'queue', 'services', 'api', 'worker', 'config']),
  layer('services', ['api', 'worker', 'config']),
  layer('api', ['db', 'queue', 'sender', 'worker', 'config']),
  layer('worker', ['db', 'sender', 'api', 'config']),
);
