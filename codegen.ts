import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed documents for the tests, from the committed schema and the operations under
 * test/operations. `npm run codegen` writes them; a test fails when they are stale.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/operations/**/*.graphql'],
  generates: {
    'test/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { scalars: { DateTimeISO: 'string' }, enumsAsTypes: true, useTypeImports: true },
    },
  },
  hooks: {},
};

export default config;
