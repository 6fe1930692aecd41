import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', diagnostics: { warnOnly: false } }],
  },
  // The example app imports the package by its own name, exactly as a user would; in tests that
  // name resolves to the TypeScript sources so no build is needed first.
  moduleNameMapper: {
    '^kakao-login-express$': '<rootDir>/lib/index.ts',
    '^kakao-login-express/testing$': '<rootDir>/lib/testing/index.ts',
  },
  // Consumer apps and sample envs are copied out and installed elsewhere; their package.json files are
  // not modules here.
  modulePathIgnorePatterns: ['<rootDir>/test/consumers/apps/', '<rootDir>/test/samples/envs/'],
  testTimeout: 30_000,
};

export default config;
