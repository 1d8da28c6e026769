/**
 * The HTTP-API recipes take TLS options as vars. The stand-ins and the local servers speak
 * plain HTTP, so this checks the rendered plan (`lsbackup plan`, backup and restore): with
 * the vars set, every curl call of every step carries them; with them empty, none does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { repoRoot, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeAll(async () => {
  ws = await workspace();
  await ws.write('build/inventory', ['prometheus', 'logging', 'kibana', 'grafana'].map((g) => `[${g}]\nlocalhost ansible_connection=local\n`).join('\n'));
});
afterAll(async () => ws.cleanup());

/**
 * `flags`: what every line of `lines` (default: the curl calls) holds with the vars set; with
 * them empty, none holds a TLS option. `curlReads`: what every curl call holds either way, when
 * the recipe passes the values through shell variables.
 */
const cases: Array<{ recipe: string; vars: Record<string, string>; flags: string[]; lines?: RegExp; curlReads?: string }> = [
  {
    recipe: 'prometheus',
    vars: { prometheus_cacert: '/pki/ca.pem', prometheus_cert: '/pki/c.pem', prometheus_key: '/pki/k.pem' },
    flags: ['--cacert /pki/ca.pem', '--cert /pki/c.pem', '--key /pki/k.pem'],
  },
  {
    recipe: 'alertmanager',
    vars: { alertmanager_cacert: '/pki/ca.pem', alertmanager_cert: '/pki/c.pem', alertmanager_key: '/pki/k.pem' },
    flags: ['--cacert /pki/ca.pem', '--cert /pki/c.pem', '--key /pki/k.pem'],
  },
  // elasticsearch hands its TLS files to curl in a config on stdin, not on the command line;
  // test/components/elasticsearch.int.test.ts uses them against an HTTPS stand-in.
  // kibana's curl (its kibana_client var) reads the CA from $cacert, which every step that calls
  // Kibana sets from kibana_cacert.
  {
    recipe: 'kibana',
    vars: { kibana_cacert: '/pki/ca.pem' },
    flags: ['cacert=/pki/ca.pem'],
    lines: /\bcacert=/,
    curlReads: '${cacert:+--cacert "$cacert"}',
  },
  // grafana_server_cert: the server's own certificate, trusted by its pinned public key.
  {
    recipe: 'grafana',
    vars: { grafana_cacert: '/pki/ca.pem', grafana_server_cert: '/etc/grafana/ssl/grafana_cert.pem' },
    flags: ['--cacert /pki/ca.pem', '-k --pinnedpubkey "$pin"'],
  },
];

async function planLines(recipe: string, vars: Record<string, string>, lines = /\bcurl /): Promise<string[]> {
  await ws.write('build/host_vars/localhost.yml', JSON.stringify(vars) + '\n');
  const found: string[] = [];
  for (const extra of [[], ['--restore']]) {
    const r = await runCli(['plan', path.join(repoRoot, 'recipes', `${recipe}.yaml`), '-b', path.join(ws.dir, 'build'), ...extra], {
      env: { GRAFANA_ADMIN_PASSWORD: 'x', LOGGING_ADMIN_PASSWORD: 'x' },
    });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    found.push(...r.stdout.split('\n').filter((l) => lines.test(l)));
  }
  return found;
}

describe('TLS options of the HTTP-API recipes', () => {
  for (const { recipe, vars, flags, lines, curlReads } of cases) {
    it(`${recipe}: every curl call carries the TLS vars when set, none when empty`, async () => {
      const withTls = await planLines(recipe, vars, lines);
      expect(withTls.length).toBeGreaterThan(0);
      for (const line of withTls) for (const flag of flags) expect(line).toContain(flag);
      const empty = Object.fromEntries(Object.keys(vars).map((k) => [k, '']));
      const withoutTls = await planLines(recipe, empty, lines);
      expect(withoutTls.length).toBe(withTls.length);
      for (const line of withoutTls) expect(line).not.toMatch(/--cacert|--cert|--key|-K \/|--pinnedpubkey|cacert=\//);
      if (curlReads) for (const line of await planLines(recipe, empty)) expect(line).toContain(curlReads);
    });
  }
});
