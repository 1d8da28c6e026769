import { afterEach, describe, expect, it } from 'vitest';
import { deliver } from '../../engine/notify/deliver.js';
import { createNotifier } from '../../engine/notify/notifier.js';
import { createRedactor } from '../../engine/secrets/redactor.js';
import type { RunReport } from '../../engine/jobs/report.js';
import { startRecorder } from './recorder.js';

let recorder: Awaited<ReturnType<typeof startRecorder>> | undefined;
afterEach(async () => recorder?.close());

const report = (status: RunReport['status'], extra: Partial<RunReport> = {}): RunReport => ({
  job: 'nightly',
  status,
  startedAt: new Date().toISOString(),
  targets: [],
  components: [],
  warnings: [],
  ...extra,
});

describe('deliver', () => {
  it('retries a 5xx with backoff until it succeeds', async () => {
    recorder = await startRecorder((_p, n) => (n < 3 ? 503 : 200));
    await deliver({ url: `${recorder.url}/hook`, method: 'POST', body: '{}' }, { timeoutMs: 1000, retries: 2, backoffMs: 50 });
    const hits = recorder.received;
    expect(hits.length).toBe(3);
    expect(hits[2]!.at - hits[1]!.at).toBeGreaterThanOrEqual(90); // second backoff is doubled
  });

  it('does not retry a 4xx, and gives up after the retries', async () => {
    recorder = await startRecorder((p) => (p === '/gone' ? 404 : 500));
    await expect(deliver({ url: `${recorder.url}/gone`, method: 'POST' }, { timeoutMs: 1000, retries: 3, backoffMs: 10 })).rejects.toThrow('HTTP 404');
    await expect(deliver({ url: `${recorder.url}/err`, method: 'POST' }, { timeoutMs: 1000, retries: 1, backoffMs: 10 })).rejects.toThrow('HTTP 500');
    expect(recorder.received.map((r) => r.path)).toEqual(['/gone', '/err', '/err']);
  });

  it('abandons a hanging endpoint after its timeout', async () => {
    recorder = await startRecorder(() => 'hang');
    const started = Date.now();
    await expect(deliver({ url: `${recorder.url}/h`, method: 'POST' }, { timeoutMs: 300, retries: 1, backoffMs: 10 })).rejects.toThrow('no answer within 0.3s');
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe('notifier', () => {
  it('pings <url>/start, <url> on success and <url>/fail on partial or failure', async () => {
    recorder = await startRecorder();
    const warnings: string[] = [];
    const notifier = createNotifier([{ type: 'ping', url: `${recorder.url}/ping/uuid-1234/` }], { redactor: createRedactor(), warn: (m) => warnings.push(m) });
    notifier.notify('start', report('running'));
    notifier.notify('success', report('success'));
    notifier.notify('partial', report('partial'));
    notifier.notify('failure', report('failed', { error: 'boom' }));
    await notifier.settle();
    expect(recorder.received.map((r) => r.path).sort()).toEqual(['/ping/uuid-1234', '/ping/uuid-1234/fail', '/ping/uuid-1234/fail', '/ping/uuid-1234/start']);
    expect(recorder.received.find((r) => r.body.includes('boom'))!.path).toBe('/ping/uuid-1234/fail');
    expect(warnings).toEqual([]);
  });

  it('POSTs the JSON summary with secrets redacted, only for the chosen events, and warns without the URL path', async () => {
    recorder = await startRecorder((p) => (p === '/down' ? 500 : 200));
    const redactor = createRedactor();
    redactor.add('hunter2-secret');
    const warnings: string[] = [];
    const notifier = createNotifier(
      [
        { type: 'webhook', url: `${recorder.url}/hook`, on: ['failure'], headers: { Authorization: 'Bearer tok-abcdef' } },
        { type: 'webhook', url: `${recorder.url}/down`, retries: 0 },
      ],
      { redactor, warn: (m) => warnings.push(m) },
    );
    notifier.notify('success', report('success'));
    notifier.notify('failure', report('failed', { error: 'password hunter2-secret rejected' }));
    await notifier.settle();
    const [hook] = await recorder.waitFor('/hook');
    expect(recorder.received.filter((r) => r.path === '/hook').length).toBe(1);
    expect(hook!.headers.authorization).toBe('Bearer tok-abcdef');
    const body = JSON.parse(hook!.body);
    expect(body).toMatchObject({ event: 'failure', job: 'nightly', status: 'failed', error: 'password *** rejected' });
    expect(warnings.length).toBe(2);
    expect(warnings[0]).toMatch(/^notification webhook http:\/\/127\.0\.0\.1:\d+\/… \((success|failure)\) failed: HTTP 500$/);
    // Header values became secrets too.
    expect(redactor.redact('sent Bearer tok-abcdef')).toBe('sent ***');
  });
});
