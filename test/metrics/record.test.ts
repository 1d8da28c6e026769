/**
 * A run recorded without its cluster (it failed before reading the inventory, or `run` could not
 * load its config) lands on the job's series, the one the alert rules follow, not on a series
 * of its own (cluster "") that would go on saying "failed" after the job recovered.
 */
import { describe, expect, it } from 'vitest';
import { recordRun, recordSuccess } from '../../engine/metrics/record.js';
import { MetricsStore } from '../../engine/metrics/store.js';

const nightly = { cluster: 'shop', backup_job: 'nightly' };
const failedWithoutCluster = { job: 'nightly', status: 'failed' as const, components: [] };

describe('recordRun: a run that does not know its cluster', () => {
  it("after a scheduler restart (only the catalog's last success known): the job's series says failed", () => {
    const store = new MetricsStore();
    recordSuccess(store, nightly, 1_700_000_000, 1234);
    recordRun(store, failedWithoutCluster);
    expect(store.get('lastStatus', { ...nightly, status: 'failed' })).toBe(1);
    expect(store.get('runs', { ...nightly, status: 'failed' })).toBe(1);
    expect(store.get('lastSuccess', nightly)).toBe(1_700_000_000);
    expect(store.render()).not.toContain('cluster=""');
  });

  it('a job recorded under two clusters (its cluster was renamed): which one is not guessed', () => {
    const store = new MetricsStore();
    recordRun(store, { ...failedWithoutCluster, cluster: 'shop' });
    recordRun(store, { ...failedWithoutCluster, cluster: 'shop-eu' });
    recordRun(store, failedWithoutCluster);
    expect(store.get('runs', { cluster: '', backup_job: 'nightly', status: 'failed' })).toBe(1);
  });
});
