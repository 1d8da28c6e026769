/**
 * `lsbackup config show` (text and --json) prints the effective config for a human or a support
 * ticket: no credential of a notification endpoint may be in it. The path of a notification URL
 * of any type may be its credential (Slack, Discord and Teams webhooks, ntfy topics, ping UUIDs;
 * the schema says so), and a password or a token-named query parameter written into any URL is
 * one too; the hosts and other query parameters stay, so the output still says where.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCli, workspace } from '../helpers/cli.js';

const SECRETS = [
  'SLACKPATH123',
  'NTFYTOPIC456',
  'NTFYTOKEN789',
  'PINGUUID321',
  'WEBHOOKPASS654',
  'QUERYTOKEN987',
  'HEADERSECRET111',
  'MINIOPASS222',
  'LiteralWebhookPathTok',
];

let ws: Awaited<ReturnType<typeof workspace>>;
let config: string;

beforeAll(async () => {
  ws = await workspace('lsb-config-show-');
  config = path.join(ws.dir, 'lsbackup.config.yaml');
  await writeFile(
    config,
    `build: ./build
targets:
  - uri: s3://bucket/prod
    options: { endpoint: "https://minio:MINIOPASS222@minio.example:9000", forcePathStyle: true }
notifications:
  - { type: slack, url: "https://hooks.slack.com/services/T0/B0/SLACKPATH123" }
  - { type: ntfy, url: "https://ntfy.sh/backups-NTFYTOPIC456", token: NTFYTOKEN789 }
  - { type: ping, url: "https://hc-ping.com/PINGUUID321" }
  - { type: webhook, url: "https://lsb:WEBHOOKPASS654@hooks.example.com/x?page=2&token=\${HOOK_TOKEN}" }
  # Credentials in the URL and an Authorization header on one endpoint are refused (one or the other).
  - type: webhook
    url: "https://hooks.example.com/y"
    headers: { Authorization: "Bearer HEADERSECRET111" }
  - { type: webhook, url: "https://hooks.teams.example/services/T0/B0/LiteralWebhookPathTok" }
`,
  );
}, 60_000);
afterAll(async () => {
  await ws?.cleanup();
});

describe('config show', () => {
  for (const json of [false, true]) {
    it(`${json ? '--json' : 'text'}: masks every notification credential and URL password, keeps the hosts`, async () => {
      const r = await runCli(['config', 'show', '-c', config, ...(json ? ['--json'] : [])], {
        env: { ...process.env, HOOK_TOKEN: 'QUERYTOKEN987' } as Record<string, string>,
      });
      expect(r.exitCode, r.stderr).toBe(0);
      const out = r.stdout + r.stderr;
      for (const secret of SECRETS) expect(out, secret).not.toContain(secret);
      for (const host of ['hooks.slack.com', 'ntfy.sh', 'hc-ping.com', 'hooks.example.com', 'hooks.teams.example', 'minio.example:9000', 'page=2'])
        expect(out).toContain(host);
    });
  }
});
