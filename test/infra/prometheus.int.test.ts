import { describe, it, expect } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startPrometheus } from './servers/prometheus.js';
import { startAlertmanager } from './servers/alertmanager.js';
import { waitUntil } from './servers/common.js';
import { expectStoppedClean } from './assert-gone.js';

describe('Prometheus 2.42 (real server)', () => {
  it('scrapes itself so queries return series, takes a TSDB snapshot, stops clean', async () => {
    const prom = await startPrometheus();
    try {
      await waitUntil('self-scrape', async () => (await prom.query('up{job="prometheus"}')).length === 1, { timeoutMs: 120_000 });
      expect((await prom.query('up'))[0]!.value[1]).toBe('1');
      const res = await fetch(`${prom.url}/api/v1/admin/tsdb/snapshot`, { method: 'POST' });
      expect(res.status).toBe(200);
      const { data } = (await res.json()) as { data: { name: string } };
      expect(await readdir(join(prom.dataDir, 'snapshots'))).toContain(data.name);
    } finally {
      await prom.stop();
    }
    await expectStoppedClean(prom);
  });
});

describe('Alertmanager 0.25 (real server)', () => {
  it('creates, lists and expires a silence through the v2 API, stops clean', async () => {
    const am = await startAlertmanager();
    try {
      const now = Date.now();
      const id = await am.createSilence({
        matchers: [{ name: 'alertname', value: 'NodeDown', isRegex: false }],
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + 3_600_000).toISOString(),
        createdBy: 'lsbackup-test',
        comment: 'maintenance',
      });
      const silences = await am.listSilences();
      const mine = silences.find((s) => s.id === id);
      expect(mine?.comment).toBe('maintenance');
      expect(mine?.status?.state).toBe('active');
      await am.expireSilence(id);
      expect((await am.listSilences()).find((s) => s.id === id)?.status?.state).toBe('expired');
    } finally {
      await am.stop();
    }
    await expectStoppedClean(am);
  });
});
