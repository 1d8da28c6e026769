import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A hang detector, not a speed check: integration tests make many CLI runs, each of which
    // takes seconds on a busy 2-core machine (load 20+ seen with parallel work).
    // Hooks start servers and fleets: at load 28 (two burners and seven parallel sessions) a
    // RabbitMQ or Kafka set-up took over 180 s, so hooks get the tests' deadline.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Integration tests start real servers; keep files from starving the 2-core machine.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
