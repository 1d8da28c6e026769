/**
 * The deploy/ examples. No container engine or Kubernetes runs here: these checks parse the files,
 * check the fields that make them work, and validate the embedded config with lsbackup's loader.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { checkConfigText } from '../../engine/config/load.js';
import { repoRoot, runCli } from '../helpers/cli.js';

const read = (rel: string) => readFileSync(path.join(repoRoot, 'deploy', rel), 'utf8');

describe('deploy/kubernetes/cronjob.yaml', () => {
  const docs = parseAllDocuments(read('kubernetes/cronjob.yaml')).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS();
  });
  const byKind = (kind: string) => docs.find((d) => d.kind === kind);

  it('is a CronJob that runs one job at a time, with config, secrets, inventory and SSH key wired in', () => {
    const cron = byKind('CronJob');
    expect(cron.apiVersion).toBe('batch/v1');
    expect(cron.spec.schedule).toMatch(/^\S+ \S+ \S+ \S+ \S+$/);
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    const [container] = pod.containers;
    expect(container.args.slice(0, 3)).toEqual(['run', '--config', '/etc/lsbackup/lsbackup.config.yaml']);
    expect(container.envFrom[0].secretRef.name).toBe(byKind('Secret').metadata.name);
    const volumes = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]));
    for (const mount of container.volumeMounts) expect(volumes[mount.name]).toBeDefined();
    expect(volumes.config.configMap.name).toBe(byKind('ConfigMap').metadata.name);
    expect(volumes['ssh-key'].secret.defaultMode).toBe(0o400);
  });

  it('embeds a config that lsbackup accepts, given the Secret as environment', () => {
    const env = byKind('Secret').stringData;
    const text = byKind('ConfigMap').data['lsbackup.config.yaml'];
    expect(checkConfigText('configmap/lsbackup.config.yaml', text, env).problems).toEqual([]);
    expect(checkConfigText('configmap/lsbackup.config.yaml', text, {}).problems.map((p) => p.message)).toEqual([
      "environment variable 'HEALTHCHECK_URL' is not set",
    ]);
  });
});

describe('deploy/Dockerfile and systemd units', () => {
  it('builds on node:20-bookworm-slim with production dependencies and lsbackup as the entrypoint', () => {
    const docker = read('Dockerfile');
    expect(docker).toMatch(/^FROM node:20-bookworm-slim AS build$/m);
    expect(docker).toMatch(/^FROM node:20-bookworm-slim$/m);
    expect(docker).toMatch(/npm ci --omit=dev/);
    expect(docker).toMatch(/apt-get install .*openssh-client zstd/);
    expect(docker).toMatch(/^ENTRYPOINT \[.*"lsbackup"\]$/m);
    // The build stage has every directory `npm run build` reads (it runs scripts/build-validators.mjs).
    const build = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: { build: string } }).scripts.build;
    for (const dir of new Set([...build.matchAll(/\b(scripts|engine|targets|schemas)\//g)].map((m) => m[1]!))) {
      expect(docker, dir).toMatch(new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'));
    }
  });

  it('systemd units call commands and options lsbackup has (per the built CLI --help)', async () => {
    for (const unit of ['systemd/lsbackup.service', 'systemd/lsbackup-scheduler.service']) {
      const exec = /^ExecStart=\/usr\/bin\/lsbackup (.+)$/m.exec(read(unit))![1]!.split(' ');
      const help = await runCli([exec[0]!, '--help']);
      expect(help.exitCode, unit).toBe(0);
      for (const flag of exec.filter((a) => a.startsWith('--'))) expect(help.stdout, `${unit}: ${flag}`).toContain(flag);
    }
    expect(read('systemd/lsbackup.timer')).toMatch(/^OnCalendar=.+$/m);
  });
});
