// Lint rules chosen to catch defects, not to police layout (Prettier owns that: .prettierrc.json).
// Type-aware: the promise rules need the TypeScript program (tsconfig.test.json covers engine/,
// targets/, test/ and bench/).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeGlobals = Object.fromEntries(
  ['process', 'console', 'Buffer', 'URL', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'performance', 'structuredClone'].map(
    (name) => [name, 'readonly'],
  ),
);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/out/', 'backups/', 'test/**/fixtures/'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: { parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits loses its rejection, and an unhandled rejection ends the process.
      '@typescript-eslint/no-floating-promises': 'error',
      // An async function where a callback's return is ignored (stream write, event handler,
      // timer) turns its failure into an unhandled rejection.
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // `return promise` inside try skips the catch and finally's ordering.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      // Throwing a string or a plain object loses the stack and breaks `instanceof` checks.
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'prefer-const': 'error',
      // Layout, not defects: Prettier's business.
      'no-regex-spaces': 'off',
    },
  },
  {
    // Tests and stand-ins read other programs' JSON; `any` there is a test's shortcut, not an API.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { globals: nodeGlobals },
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
);
