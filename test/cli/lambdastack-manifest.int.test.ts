/**
 * A LambdaStack build dir's manifest.yml reaches the recipes as data, through the bundled
 * profile (profiles/lambdastack.yaml): no --var and no host_vars for what LambdaStack already
 * wrote down. The manifest here is shaped like `lscli apply` saves it (multi-document YAML,
 * `kind: configuration/<component>` documents with their `specification`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { cliOutput, repoRoot, runCli, workspace } from '../helpers/cli.js';
import { loadProfiles } from '../../engine/profiles/index.js';
import { loadRecipes } from '../../engine/recipes/index.js';

let ws: Awaited<ReturnType<typeof workspace>>;

const MANIFEST = `kind: lambdastack-cluster
title: LambdaStack Cluster Config
name: prod
specification:
  name: prod
  admin_user: { name: operations, key_path: /shared/build/prod/keys/ssh/lambdastack-operations }
---
kind: configuration/grafana
title: Grafana
name: default
specification:
  grafana_data_dir: /var/lib/grafana
  grafana_port: 3000
  grafana_server:
    protocol: https
    cert_file: /etc/grafana/ssl/grafana_cert.pem
  grafana_security:
    admin_user: admin
    admin_password: manifest-grafana-pw-7731
---
kind: configuration/prometheus
title: Prometheus
name: default
specification:
  config_directory: /etc/prometheus
  storage:
    data_directory: /data/prometheus
---
kind: configuration/logging
name: default
specification:
  admin_password: manifest-logging-pw
  paths:
    repo: /var/lib/elasticsearch-snapshots
`;

beforeAll(async () => {
  ws = await workspace('lsb-manifest-');
  await ws.write('build/inventory', '[grafana]\nlocalhost ansible_connection=local\n[prometheus]\nlocalhost\n');
  await ws.write('build/manifest.yml', MANIFEST);
});
afterAll(() => ws.cleanup());

describe('values from manifest.yml', () => {
  it('plan lists them and the recipes use them: Grafana over https on localhost with its certificate, Prometheus data dir', async () => {
    const r = await runCli(['plan', '-b', path.join(ws.dir, 'build'), '--only', 'grafana,prometheus']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    expect(r.stdout).toContain(`Values from ${path.join(ws.dir, 'build', 'manifest.yml')} (profile lambdastack`);
    expect(r.stdout).toContain('grafana.grafana_url = https://localhost:3000');
    expect(r.stdout).toContain('prometheus.prometheus_data_dir = /data/prometheus');
    expect(r.stdout).toContain('secret GRAFANA_ADMIN_PASSWORD');
    expect(r.stdout).toMatch(/openssl x509 -in \/etc\/grafana\/ssl\/grafana_cert\.pem/);
    expect(r.stdout).toContain('u=https://localhost:3000');
    expect(r.stdout).toMatch(/detect: test -d \/data\/prometheus/);
    // The password is a secret: it never shows, and the component does not fail for lack of it.
    expect(r.stdout + r.stderr).not.toContain('manifest-grafana-pw-7731');
    expect(r.stdout).not.toMatch(/grafana .*FAILS/);
  });

  it('the inventory, config and --var override the manifest', async () => {
    await ws.write('build/host_vars/localhost.yml', 'prometheus_data_dir: /from/inventory\n');
    try {
      const r = await runCli(['plan', '-b', path.join(ws.dir, 'build'), '--only', 'prometheus']);
      expect(r.stdout).toMatch(/detect: test -d \/from\/inventory/);
      const v = await runCli(['plan', '-b', path.join(ws.dir, 'build'), '--only', 'prometheus', '--var', 'prometheus.prometheus_data_dir=/from/flag']);
      expect(v.stdout).toMatch(/detect: test -d \/from\/flag/);
    } finally {
      await ws.write('build/host_vars/localhost.yml', '{}\n');
    }
  });

  it('a manifest that does not parse is exit 78 at file:line:col', async () => {
    await ws.write('bad/inventory', '[grafana]\nlocalhost ansible_connection=local\n');
    const manifest = await ws.write('bad/manifest.yml', 'kind: configuration/grafana\nspecification:\n  grafana_port: [3000\n');
    const r = await runCli(['plan', '-b', path.join(ws.dir, 'bad')]);
    expect(r.exitCode, cliOutput(r)).toBe(78);
    expect(r.stderr).toMatch(new RegExp(`${manifest}:\\d+:\\d+: YAML syntax error`));
  });

  it('a manifest value of the wrong type is exit 78 naming where it is', async () => {
    await ws.write('typed/inventory', '[grafana]\nlocalhost ansible_connection=local\n');
    const manifest = await ws.write(
      'typed/manifest.yml',
      'kind: configuration/grafana\nspecification:\n  grafana_port:\n    http: 3000\n  grafana_server: { protocol: https }\n',
    );
    const r = await runCli(['plan', '-b', path.join(ws.dir, 'typed')]);
    expect(r.exitCode, cliOutput(r)).toBe(78);
    expect(r.stderr).toContain(`${manifest}:4:5: configuration/grafana specification.grafana_port is a mapping`);
  });
});

describe('the bundled profiles', () => {
  it('validate, and every var they set is declared by the bundled recipe it names', async () => {
    const profiles = await loadProfiles();
    expect(profiles.map((p) => p.metadata.name)).toContain('lambdastack');
    const recipes = await loadRecipes([path.join(repoRoot, 'recipes')]);
    const declared = new Set(recipes.flatMap((r) => Object.keys(r.recipe.spec.vars ?? {}).map((v) => `${r.recipe.metadata.name}.${v}`)));
    const used = new Set(recipes.flatMap((r) => readFileSync(r.file, 'utf8').match(/secret "([A-Z0-9_]+)"/g) ?? []).map((m) => m.slice(8, -1)));
    for (const p of profiles) {
      for (const v of p.spec.values) {
        if (v.var) expect(declared, `${p.metadata.name}: ${v.var}`).toContain(v.var);
        if (v.secret) expect(used, `${p.metadata.name}: secret ${v.secret}`).toContain(v.secret);
      }
    }
    expect(parse(readFileSync(path.join(repoRoot, 'profiles', 'lambdastack.yaml'), 'utf8')).spec.manifest).toBe('manifest.yml');
  });
});
