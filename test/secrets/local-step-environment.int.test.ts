// A command on a local host (ansible_connection=local) gets the secrets its step names, never
// every secret lsbackup was given in its environment: those it inherited could be printed into
// the backup by the command, or handed on to a process of another user (`runuser -p`, `su -m`).
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCluster, type Cluster } from '../helpers/cluster.js';

const TOKEN = 'local-step-token-8d1e77';
let cluster: Cluster;

beforeAll(async () => {
  cluster = await createCluster({ local: ['app'], env: { APP_TOKEN: TOKEN, LSB_PLAIN_SETTING: 'kept' } });
  await cluster.writeRecipe(
    'app',
    `hosts: { group: app, run: all }
backup:
  snapshot:
    - name: the named secret arrives
      env: { TOKEN: '{{secret "APP_TOKEN"}}' }
      run: printf '%s' "$TOKEN"
      output: token.txt
    - name: the environment of a step that names none
      run: env
      output: env.txt
`,
  );
});

afterAll(() => cluster?.cleanup());

it("a local step's commands do not inherit the secrets lsbackup resolved from its environment; a step that names one gets it", async () => {
  const archive = await cluster.backup(cluster.recipes);
  const entry = (suffix: string) => execFileSync('tar', ['-xzOf', archive, '--wildcards', `*${suffix}`]).toString();
  expect(entry('token.txt')).toBe(TOKEN);
  const env = entry('env.txt');
  expect(env).toContain('LSB_PLAIN_SETTING=kept');
  expect(env).not.toContain(TOKEN);
  expect(env).not.toMatch(/^APP_TOKEN=/m);
});
