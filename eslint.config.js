import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'packages/*/dist/',
      'node_modules/',
      'coverage/',
      'test-results/',
      '.tools/',
      // Consumer projects (CommonJS, Jest): test/packages-publish.test.ts compiles and runs them as their users would.
      'test/consumers/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // `const { dropped: _dropped, ...kept } = value` is how a field is left out.
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read the environment only in src/config.ts (and src/serve.ts hands it over).',
        },
      ],
    },
  },
  {
    // The framework-free core: no framework, and nothing from outside the package.
    files: ['packages/bearer/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['koa', 'express', 'fastify', 'hono'],
          patterns: [
            { group: ['../*', '@product-service/*'], message: 'The core imports nothing outside its package.' },
          ],
        },
      ],
    },
  },
  {
    // The adapters: the core through its public exports only (its adapter kit among them), never its internals.
    files: ['packages/bearer-*/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../*', '@product-service/bearer/*', '!@product-service/bearer/adapter'],
              message: 'Only the public exports of the core.',
            },
          ],
        },
      ],
    },
  },
  {
    // The test kit: the core's public exports only (its types), as any user of the packages has them.
    files: ['packages/bearer-testing/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['../*', '@product-service/bearer/*'], message: 'Only the public exports of the core.' }],
        },
      ],
    },
  },
  {
    // The products domain speaks in its own outcomes (src/products/outcomes.ts); only its routes know HTTP and map
    // those outcomes to answers. test/products-outcomes.test.ts proves this rule fires, and scans for statuses.
    files: ['src/products/**/*.ts'],
    ignores: ['src/products/routes.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/http/*', '**/http'],
              message: 'Only src/products/routes.ts speaks HTTP; the domain throws a ProductError (outcomes.ts).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['smoke/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['**/src/**'], message: 'smoke/ checks a deployment from outside: nothing from src/.' }],
        },
      ],
    },
  },
  {
    // smoke/run.ts is configured by the environment alone, as the pipeline runs it against a deployment.
    files: [
      'src/serve.ts',
      'src/token.ts',
      'src/telemetry/register.ts',
      'smoke/run.ts',
      'test/**/*.ts',
      'packages/*/test/**/*.ts',
      'bench/**/*.ts',
      // The examples stand for another service: they read the environment the service's way, in examples/config.ts.
      'examples/**/*.ts',
    ],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['test/**/*.ts', 'packages/*/test/**/*.ts'],
    rules: {
      // node:test's describe/it return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after'] },
          ],
        },
      ],
    },
  },
  { files: ['*.js'], ...tseslint.configs.disableTypeChecked },
);
