/**
 * The unit tier's guard (test/helpers/tier.ts): a test that is not `*.int.test.ts` and tries to
 * start a server or an sshd fails saying which tier it belongs to — before anything starts.
 */
import { describe, expect, it } from 'vitest';
import { startFleet } from '../fleet/fleet.js';
import { startPostgres, startKibanaStandIn } from './index.js';
import { startSwiftS3 } from './swift.js';
import { startAzureFileStandIn } from './azure-file-standin.js';

const MOVE_IT = /rename the test file to \*\.int\.test\.ts .*npm run test:integration/;

describe('in the unit tier', () => {
  it('is the unit tier (vitest.config.ts sets LSB_TEST_TIER for the unit project)', () => {
    expect(process.env.LSB_TEST_TIER).toBe('unit');
  });

  it.each([
    ['an sshd fleet', () => startFleet({ hosts: 1 })],
    ['a test server (pg)', () => startPostgres()],
    ['a test server (kibana)', () => startKibanaStandIn()],
    ['the Swift S3 server', () => startSwiftS3()],
    ['the Azure Files stand-in', () => startAzureFileStandIn()],
  ])('starting %s fails, naming the integration tier', async (what, start) => {
    await expect(start()).rejects.toThrow(MOVE_IT);
    await expect(start()).rejects.toThrow(what);
  });
});
