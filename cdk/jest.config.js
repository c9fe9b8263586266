/** Jest runs the TypeScript tests through ts-jest; the synth-heavy suites share one template per file. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  // tsconfig's isolatedModules makes ts-jest transpile only; ci.sh type-checks with `tsc --noEmit` first.
  // Synthesising three stacks with cdk-nag takes a few seconds per suite on a 2-core machine.
  testTimeout: 120000,
};
