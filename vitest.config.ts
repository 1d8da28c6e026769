import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A hang detector, not a speed check: integration tests make many CLI runs, each of which
    // takes seconds on a busy 2-core machine (load 20+ seen with parallel work).
    testTimeout: 300_000,
    hookTimeout: 180_000,
    // Integration tests start real servers; keep files from starving the 2-core machine.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
