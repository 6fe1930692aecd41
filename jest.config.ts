import type { Config } from 'jest';

type Project = NonNullable<Config['projects']>[number] & object;

/** What every project shares. */
const base = {
  testEnvironment: 'node',
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
} satisfies Project;

const project = (name: string, dir: string, extra: Partial<Project> = {}): Project => ({
  ...base,
  displayName: name,
  rootDir: '.',
  testMatch: [`<rootDir>/test/${dir}/**/*.test.ts`],
  ...extra,
});

const config: Config = {
  testTimeout: 30_000,
  projects: [
    // Pure code: no sockets, no processes (the setup file makes opening one fail the test).
    project('unit', 'unit', { setupFilesAfterEnv: ['<rootDir>/test/unit/no-network.ts'] }),
    // Real sockets, real redis-server processes, the emulator.
    project('integration', 'integration'),
    project('fuzz', 'fuzz'),
    project('failover', 'failover'),
    // Chromium.
    project('e2e', 'e2e'),
    // The packed tarball in scratch apps, and the README / TSDoc samples.
    project('consumers', 'consumers'),
    project('samples', 'samples'),
  ],
};

export default config;
