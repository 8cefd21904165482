import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    // Network graphs take seconds to build and run on 2 cores; fixtures are real-size-ish.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // ORT sessions use both cores; running files in parallel only thrashes.
    fileParallelism: false,
    reporters: ['default'],
  },
});
