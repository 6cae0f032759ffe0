import { defineConfig } from 'vitest/config';

// Two projects: `unit` tests the pure modules straight from src/ and needs no build
// (`npm run test:unit`); `suites` are the black-box suites, several of which load the built
// package and its worker from dist/. `npm test` builds first, then runs both.
export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'suites',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          // Type tests (`*.test-d.ts`): checked by tsc, reported as tests; nothing in them runs.
          typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
