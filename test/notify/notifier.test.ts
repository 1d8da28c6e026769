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
  it('retries a 5xx with doubling backoff until it succeeds', async () => {
    recorder = await startRecorder((_p, n) => (n < 3 ? 503 : 200));
    const waits: number[] = [];
    await deliver(
      { url: `${recorder.url}/hook`, method: 'POST', body: '{}' },
      { timeoutMs: 5000, retries: 2, backoffMs: 50, onRetry: (_a, delayMs) => waits.push(delayMs) },
    );
    expect(recorder.received.length).toBe(3);
    expect(waits).toEqual([50, 100]); // the second backoff is doubled
  });

  it('does not retry a 4xx, and gives up after the retries', async () => {
    recorder = await startRecorder((p) => (p === '/gone' ? 404 : 500));
    await expect(deliver({ url: `${recorder.url}/gone`, method: 'POST' }, { timeoutMs: 1000, retries: 3, backoffMs: 10 })).rejects.toThrow('HTTP 404');
    await expect(deliver({ url: `${recorder.url}/err`, method: 'POST' }, { timeoutMs: 1000, retries: 1, backoffMs: 10 })).rejects.toThrow('HTTP 500');
    expect(recorder.received.map((r) => r.path)).toEqual(['/gone', '/err', '/err']);
  });

  it('abandons a hanging endpoint after its timeout, each attempt', async () => {
    recorder = await startRecorder(() => 'hang');
    // Settles at all only because each attempt is abandoned: the endpoint never answers.
    await expect(deliver({ url: `${recorder.url}/h`, method: 'POST' }, { timeoutMs: 300, retries: 1, backoffMs: 10 })).rejects.toThrow('no answer within 0.3s');
    expect(recorder.received.map((r) => r.path)).toEqual(['/h', '/h']);
  });
});

describe('deliver: what fetch would refuse', () => {
  it("sends a URL's credentials (user:password@, which fetch refuses) as a Basic Authorization header", async () => {
    recorder = await startRecorder();
    const url = new URL(recorder.url);
    await deliver({ url: `http://admin:p%40ss@${url.host}/x`, method: 'POST', body: '{}' }, { timeoutMs: 5000, retries: 0 });
    expect(recorder.received.map((r) => r.path)).toEqual(['/x']);
    expect(recorder.received[0]!.headers.authorization).toBe(`Basic ${Buffer.from('admin:p@ss').toString('base64')}`);
  });

  it('does not retry a request that cannot be made, and its error names the header, never the value', async () => {
    recorder = await startRecorder();
    const retried: number[] = [];
    for (const [headers, says] of [
      [{ 'Bad Header': 'hdr-secret-1' }, "'Bad Header' is not a valid HTTP header name"],
      [{ 'X-Token': 'hdr-secret-2\nmore' }, "the value of header 'X-Token' is not a valid HTTP header value"],
    ] as const) {
      const sent = deliver(
        { url: `${recorder.url}/x`, method: 'POST', headers },
        { timeoutMs: 5000, retries: 3, backoffMs: 10, onRetry: (a) => retried.push(a) },
      );
      const error = await sent.then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toContain(says);
      expect(error?.message).not.toMatch(/hdr-secret/);
    }
    expect(retried).toEqual([]);
    expect(recorder.received).toEqual([]);
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
    redactor.add('hunter2-secret', 'secret X');
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

  it('treats the URL of every type as a secret: a Slack, Discord or Teams webhook carries its token in the path', () => {
    const redactor = createRedactor();
    const url = 'https://discord.example/api/webhooks/123/WebhookPathTok';
    createNotifier([{ type: 'webhook', url }], { redactor, warn: () => undefined });
    expect(redactor.redact(`POST ${url} refused`)).toBe('POST *** refused');
  });

  it("delivers one endpoint's events in order: a failing /start is not retried after the outcome went out", async () => {
    // healthchecks.io: a /start arriving after the success ping leaves the check "started".
    recorder = await startRecorder((p, n) => (p.endsWith('/start') && n === 1 ? 503 : 200));
    const warnings: string[] = [];
    // A long backoff: the retry of /start would come well after the success ping.
    const notifier = createNotifier([{ type: 'ping', url: `${recorder.url}/ping/uuid-1` }], {
      redactor: createRedactor(),
      warn: (m) => warnings.push(m),
      backoffMs: 5000,
    });
    notifier.notify('start', report('running'));
    await recorder.waitFor('/ping/uuid-1/start');
    notifier.notify('success', report('success'));
    await notifier.settle();
    expect(recorder.received.map((r) => r.path)).toEqual(['/ping/uuid-1/start', '/ping/uuid-1']);
    expect(warnings).toEqual([expect.stringMatching(/\(start\) failed: HTTP 503; not retried: a later event went out instead$/)]);
  });

  it('a later event waits for the earlier one in flight on the same endpoint', async () => {
    let releaseStart!: () => void;
    const startAnswered = new Promise<void>((resolve) => (releaseStart = resolve));
    const order: string[] = [];
    recorder = await startRecorder(async (p) => {
      order.push(`received ${p}`);
      if (p.endsWith('/start')) {
        await startAnswered;
        order.push('answered /start');
      }
      return 200;
    });
    const notifier = createNotifier([{ type: 'ping', url: `${recorder.url}/c` }], { redactor: createRedactor(), warn: () => undefined });
    notifier.notify('start', report('running'));
    await recorder.waitFor('/c/start');
    notifier.notify('failure', report('failed'));
    // The answer is held a while so that, were the failure sent at once, it would arrive first.
    // (The order asserted holds however long this takes.)
    setTimeout(releaseStart, 300);
    await notifier.settle();
    expect(order).toEqual(['received /c/start', 'answered /start', 'received /c/fail']);
  });

  it('when stopping, makes one attempt per pending notification and says what it waits for', async () => {
    recorder = await startRecorder(() => 503);
    const warnings: string[] = [];
    const notifier = createNotifier([{ type: 'webhook', url: `${recorder.url}/down`, timeout: 3, retries: 4 }], {
      redactor: createRedactor(),
      warn: (m) => warnings.push(m),
      backoffMs: 10,
    });
    notifier.notify('failure', report('failed'));
    await notifier.settle({ stopping: true });
    expect(recorder.received.length).toBe(1);
    expect(warnings[0]).toMatch(
      /^stopping: waiting up to 3 s for 1 notification\(s\) to be delivered \(no retries\): webhook http:\/\/127\.0\.0\.1:\d+\/… \(failure\)$/,
    );
    expect(warnings[1]).toMatch(/\(failure\) failed: HTTP 503; not retried: stopping$/);
  });
});
