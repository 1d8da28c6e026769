/**
 * Keeps the unit tier honest (vitest.config.ts sets LSB_TEST_TIER=unit for it): whatever in
 * test/infra and test/fleet starts a server or an sshd calls this first, so a test that needs one
 * but is not named `*.int.test.ts` fails saying so, instead of slowing the unit tier down or failing
 * obscurely on a machine without root and packages. (No vitest import: bench/ uses test/fleet too.)
 */
export function requireIntegrationTier(what: string): void {
  if (process.env.LSB_TEST_TIER !== 'unit') return;
  throw new Error(
    `a unit-tier test starts ${what}; the unit tier (npm run test:unit) starts no servers and no sshd: ` +
      'rename the test file to *.int.test.ts (git mv) so that it runs in the integration tier (npm run test:integration)',
  );
}
