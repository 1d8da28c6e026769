import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Integration tests start real servers; keep files from starving the 2-core machine.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
