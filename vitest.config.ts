import { defineConfig } from 'vitest/config';

/**
 * Two tiers (README, Development). `npm test` runs both; `vitest run --project unit|integration` one.
 * - unit: everything but `*.int.test.ts`. No root, no Debian packages beyond the essential set, no
 *   servers, no sshd, no built CLI; runs in under a minute. LSB_TEST_TIER=unit makes the test
 *   infra refuse to start a server or sshd (test/helpers/tier.ts), so a misfiled test fails clearly.
 * - integration: `*.int.test.ts`: real servers (test/infra), sshd fleets (test/fleet), the built
 *   CLI, root, Debian packages (test/infra/apt-packages.txt).
 */
export default defineConfig({
  test: {
    // Two files at a time: integration files start real servers; keep them from starving the 2-core machine.
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts'],
          env: { LSB_TEST_TIER: 'unit' },
          // A hang detector, not a speed check (the machine may be busy with other work).
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          env: { LSB_TEST_TIER: 'integration' },
          // A hang detector, not a speed check: integration tests make many CLI runs, each of which
          // takes seconds on a busy 2-core machine (load 20+ seen with parallel work).
          // Hooks start servers and fleets: at load 28 (two burners and seven parallel sessions) a
          // RabbitMQ or Kafka set-up took over 180 s, so hooks get the tests' deadline.
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
