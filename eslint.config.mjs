import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node's globals for plain JavaScript files (scripts and the consumer apps). */
const nodeGlobals = {
  process: 'readonly',
  console: 'readonly',
  URL: 'readonly',
  URLSearchParams: 'readonly',
  fetch: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
  Buffer: 'readonly',
  AbortSignal: 'readonly',
};

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'example-app/build/', 'coverage/', 'test/consumers/apps/*/build/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['scripts/**/*.mjs', 'test/consumers/apps/**/*.{js,mjs}'],
    languageOptions: { globals: nodeGlobals },
  },
  {
    // The CommonJS consumer apps are written as CommonJS users write them.
    files: ['test/consumers/apps/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { ...nodeGlobals, require: 'readonly', module: 'writable', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
