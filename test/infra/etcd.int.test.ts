import { describe, it, expect } from 'vitest';
import { startEtcd } from './servers/etcd.js';
import { expectStoppedClean } from './assert-gone.js';

describe('etcd 3.4 (real server)', () => {
  it('answers etcdctl put/get and snapshot save, then stops clean', async () => {
    const etcd = await startEtcd();
    try {
      await etcd.etcdctl(['put', '/registry/namespaces/demo', 'v1']);
      expect(await etcd.etcdctl(['get', '/registry/namespaces/demo', '--print-value-only'])).toBe('v1\n');
      const snap = `${etcd.baseDir}/snap.db`;
      await etcd.etcdctl(['snapshot', 'save', snap]);
      const status = await etcd.etcdctl(['snapshot', 'status', snap, '-w', 'json']);
      expect(JSON.parse(status).totalKey).toBeGreaterThan(0);
    } finally {
      await etcd.stop();
    }
    await expectStoppedClean(etcd);
  });
});
