import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeBuiltins = [
  'assert',
  'buffer',
  'child_process',
  'crypto',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'https',
  'net',
  'os',
  'path',
  'process',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'worker_threads',
  'zlib',
];

/** Node built-ins, by both names: none of them may run inside the workflow sandbox. */
const builtinPaths = (message) =>
  nodeBuiltins.flatMap((name) => [
    { name, message },
    { name: `node:${name}`, message },
  ]);

/** Globals that are I/O or wall-clock time: workflow code uses sleep() and activities instead. */
const sandboxGlobals = [
  { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
  { name: 'setInterval', message: 'Use sleep() from @temporalio/workflow.' },
  { name: 'fetch', message: 'I/O belongs in activities.' },
  { name: 'process', message: 'No process access in workflow code.' },
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      '.data/**',
      'bin/**',
      '*.config.js',
      '*.config.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Named exports only, so a symbol has one name everywhere (jest's global setup files, which must
      // export a default, are the one exception, below).
      'no-restricted-exports': [
        'error',
        { restrictDefaultExports: { direct: true, named: true, defaultFrom: true } },
      ],
    },
  },
  {
    files: ['test/support/global-setup.ts', 'test/support/global-teardown.ts'],
    rules: { 'no-restricted-exports': 'off' },
  },
  {
    // User regexes run on RE2 (src/domain/user-regex.ts), never on V8's backtracking engine.
    files: ['src/**/*.ts', 'workflows/**/*.ts', 'activities/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='RegExp'], CallExpression[callee.name='RegExp']",
          message: 'Build regexes from literals; user regexes go through compileUserRegex (RE2).',
        },
      ],
    },
  },
  {
    // The pure domain runs inside the workflow sandbox too: no Node built-ins, no I/O modules, and nothing from
    // the rooms above it (workflows, activities, the API, the stores).
    files: ['src/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: builtinPaths('Domain code must be deterministic: no Node built-ins.'),
          patterns: [
            {
              regex: '^\\.\\./',
              message: 'The domain imports only the domain (and pure packages): it is the bottom room.',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', ...sandboxGlobals],
    },
  },
  {
    // Determinism guard, as an allow-list: workflow code runs in the sandbox and replays, so it imports only
    // @temporalio/workflow, the pure domain and the workflow contracts (never activities, I/O, Node built-ins).
    files: ['workflows/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!@temporalio/workflow$|\\.{1,2}/)',
              message: 'Workflow code imports only @temporalio/workflow, src/domain and workflows/contracts.',
            },
            {
              regex: '^\\.\\./(?!src/domain/)',
              message: 'Workflow code imports only @temporalio/workflow, src/domain and workflows/contracts.',
            },
            {
              regex: '^\\./contracts/client$',
              message:
                'contracts/client is the Node side (it starts workflows): workflow code signals through @temporalio/workflow.',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', ...sandboxGlobals],
    },
  },
  {
    // The contracts import only the domain and Temporal's message and search-attribute definitions
    // (defineSearchAttributeKey is in @temporalio/common, which @temporalio/workflow is built on), never a
    // workflow or activity implementation: both sides import them.
    files: ['workflows/contracts/**/*.ts'],
    ignores: ['workflows/contracts/client.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!@temporalio/(workflow|common)$|\\.{1,2}/)',
              message:
                'The contracts import only @temporalio/workflow, @temporalio/common, src/domain and each other.',
            },
            {
              regex: '^\\.\\./(?!\\.\\./src/domain/)',
              message: 'The contracts import only src/domain and each other, never an implementation.',
            },
            {
              regex: '^\\./client$',
              message: 'contracts/client is the Node side: the sandbox-safe contracts do not import it.',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', ...sandboxGlobals],
    },
  },
  {
    // The client side of the contracts: Temporal's client, the contracts and the domain, nothing else.
    files: ['workflows/contracts/client.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!@temporalio/(client|common)$|node:crypto$|\\.{1,2}/)',
              message: 'contracts/client imports only @temporalio/client, the contracts and src/domain.',
            },
            {
              regex: '^\\.\\./(?!\\.\\./src/domain/)',
              message: 'contracts/client imports only the contracts and src/domain, never an implementation.',
            },
          ],
        },
      ],
    },
  },
  {
    // Activities, the API and everything else reach workflows through the contracts, never an implementation.
    files: ['src/**/*.ts', 'activities/**/*.ts'],
    ignores: ['src/domain/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+workflows(/(?!contracts/).*)?$',
              message:
                'Import workflows/contracts (messages, inputs, IDs, the client), never a workflow implementation.',
            },
          ],
        },
      ],
    },
  },
);
