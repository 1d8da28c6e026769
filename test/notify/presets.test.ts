/**
 * The notification presets (ntfy, Slack, PagerDuty Events v2), the ping's log tail and
 * Retry-After, each against a real HTTP server on 127.0.0.1 that records the requests
 * (test/notify/recorder.ts): the bodies are checked field by field against what each service
 * documents for its API.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { deliver, parseRetryAfter } from '../../engine/notify/deliver.js';
import { createNotifier } from '../../engine/notify/notifier.js';
import { createRedactor } from '../../engine/secrets/redactor.js';
import type { RunReport } from '../../engine/jobs/report.js';
import type { NotificationConfig } from '../../engine/config/load.js';
import { startRecorder } from './recorder.js';

let recorder: Awaited<ReturnType<typeof startRecorder>> | undefined;
afterEach(async () => recorder?.close());

const report = (status: RunReport['status'], extra: Partial<RunReport> = {}): RunReport => ({
  job: 'nightly',
  cluster: 'prod',
  status,
  startedAt: '2026-12-04T02:00:00.000Z',
  finishedAt: '2026-12-04T02:03:00.000Z',
  durationMs: 180_000,
  targets: [],
  components: [],
  warnings: [],
  ...extra,
});

/** Sends the events to one endpoint and returns what it received plus the warnings. */
async function send(config: NotificationConfig, events: [Parameters<ReturnType<typeof createNotifier>['notify']>[0], RunReport, string[]?][]) {
  const redactor = createRedactor();
  const warnings: string[] = [];
  const notifier = createNotifier([config], { redactor, warn: (m) => warnings.push(m), backoffMs: 10 });
  for (const [event, r, logTail] of events) notifier.notify(event, r, { logTail });
  await notifier.settle();
  return { received: recorder!.received, warnings, redactor };
}

describe('notification presets', () => {
  it('ntfy: publishes JSON to the server root with topic, title, message, tags and priority; the topic URL and token are secrets', async () => {
    recorder = await startRecorder();
    const { received, warnings, redactor } = await send({ type: 'ntfy', url: `${recorder.url}/lsb-prod-3f9c`, token: 'tk_secret123' }, [
      ['start', report('running')],
      ['failure', report('failed', { error: 'host db1 unreachable' })],
    ]);
    expect(warnings).toEqual([]);
    expect(received.map((r) => r.path)).toEqual(['/', '/']);
    expect(received[1]!.headers.authorization).toBe('Bearer tk_secret123');
    expect(received[1]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(received[0]!.body)).toMatchObject({ topic: 'lsb-prod-3f9c', title: 'lsbackup nightly: started', priority: 2 });
    expect(JSON.parse(received[1]!.body)).toEqual({
      topic: 'lsb-prod-3f9c',
      title: 'lsbackup nightly: failed',
      message: 'lsbackup job nightly: failed: host db1 unreachable',
      tags: ['rotating_light'],
      priority: 5,
    });
    expect(redactor.redact(`token tk_secret123 at ${recorder.url}/lsb-prod-3f9c`)).toBe('token *** at ***');
  });

  it('Slack: POSTs {text} from the default template or the configured one, values escaped for Slack', async () => {
    recorder = await startRecorder();
    const failed = report('failed', { error: 'exit 1 <stderr: a & b>' });
    const { received, warnings } = await send({ type: 'slack', url: `${recorder.url}/services/T0/B0/xyz` }, [['failure', failed]]);
    expect(warnings).toEqual([]);
    expect(JSON.parse(received[0]!.body)).toEqual({ text: ':rotating_light: lsbackup job *nightly* of prod: failed\nexit 1 &lt;stderr: a &amp; b&gt;' });

    recorder.received.length = 0;
    const custom = await send(
      { type: 'slack', url: `${recorder.url}/services/T0/B0/xyz`, template: '<!here> {{icon}} {{job}}@{{cluster}} {{status}} in {{duration}}: {{archive}}' },
      [['success', report('success', { archive: 'lsbackup-prod-20261204T020000Z.tar.gz' })]],
    );
    expect(JSON.parse(custom.received[0]!.body).text).toBe('<!here> :white_check_mark: nightly@prod success in 3m00s: lsbackup-prod-20261204T020000Z.tar.gz');
  });

  it('Slack: a template naming something that does not exist is a warning, and nothing is sent', async () => {
    recorder = await startRecorder();
    const { received, warnings } = await send({ type: 'slack', url: `${recorder.url}/hook`, template: '{{jbo}} failed' }, [['failure', report('failed')]]);
    expect(received).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/^notification slack http:\/\/127\.0\.0\.1:\d+\/… \(failure\) not sent: .*"jbo" not defined/)]);
  });

  it('PagerDuty Events v2: failure triggers, partial triggers as a warning, success resolves the same dedup_key; start sends nothing', async () => {
    recorder = await startRecorder(() => 202);
    const { received, warnings, redactor } = await send(
      { type: 'pagerduty', routingKey: 'R0UTINGKEY0123456789abcdef012345', url: `${recorder.url}/v2/enqueue` },
      [
        ['start', report('running')],
        ['failure', report('failed', { error: 'target s3://bkt: access denied', backupId: 'b-1' }), ['step x FAILED', 'Result: failed']],
        ['partial', report('partial')],
        ['success', report('success')],
      ],
    );
    expect(warnings).toEqual([]);
    const bodies = received.map((r) => JSON.parse(r.body));
    expect(received.map((r) => r.path)).toEqual(['/v2/enqueue', '/v2/enqueue', '/v2/enqueue']);
    expect(bodies[0]).toEqual({
      routing_key: 'R0UTINGKEY0123456789abcdef012345',
      event_action: 'trigger',
      dedup_key: 'lsbackup/prod/nightly',
      client: 'lsbackup',
      payload: {
        summary: 'lsbackup job nightly: failed: target s3://bkt: access denied',
        source: 'prod',
        severity: 'critical',
        timestamp: '2026-12-04T02:03:00.000Z',
        component: 'nightly',
        group: 'prod',
        class: 'backup',
        custom_details: { status: 'failed', backupId: 'b-1', error: 'target s3://bkt: access denied', targets: [], log_tail: 'step x FAILED\nResult: failed' },
      },
    });
    expect(bodies[1]).toMatchObject({ event_action: 'trigger', dedup_key: 'lsbackup/prod/nightly', payload: { severity: 'warning' } });
    expect(bodies[2]).toEqual({ routing_key: 'R0UTINGKEY0123456789abcdef012345', event_action: 'resolve', dedup_key: 'lsbackup/prod/nightly' });
    expect(redactor.redact('key R0UTINGKEY0123456789abcdef012345')).toBe('key ***');
  });

  it("the ping's /fail carries the tail of the run's log; the success ping does not", async () => {
    recorder = await startRecorder();
    const tail = ['  app @ db1: backup step dump FAILED: pg_dump: connection refused', 'Result: failed'];
    const { received } = await send({ type: 'ping', url: `${recorder.url}/ping/uuid` }, [
      ['success', report('success'), ['stored x']],
      ['failure', report('failed', { error: 'app failed' }), tail],
    ]);
    expect(received.map((r) => r.body)).toEqual([
      'lsbackup job nightly: success',
      `lsbackup job nightly: failed: app failed\n\nlast lines of the run's log:\n${tail.join('\n')}`,
    ]);
  });
});

describe('Retry-After', () => {
  it('waits as long as a 429 asks before the next attempt, however short the backoff', async () => {
    recorder = await startRecorder((_p, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : 200));
    const waits: number[] = [];
    await deliver(
      { url: `${recorder.url}/hook`, method: 'POST', body: '{}' },
      { timeoutMs: 5000, retries: 2, backoffMs: 10, onRetry: (_a, delayMs) => waits.push(delayMs) },
    );
    expect(waits).toEqual([1000]);
    const [first, second] = recorder.received;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(990); // a lower bound only: never sooner than asked
  });

  it('gives up at once when the endpoint asks for longer than lsbackup waits', async () => {
    recorder = await startRecorder(() => ({ status: 503, headers: { 'retry-after': '3600' } }));
    await expect(deliver({ url: `${recorder.url}/hook`, method: 'POST' }, { timeoutMs: 5000, retries: 3, backoffMs: 10 })).rejects.toThrow(
      'HTTP 503, asked to retry after 3600 s (more than the 300 s lsbackup waits)',
    );
    expect(recorder.received.length).toBe(1);
  });

  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
