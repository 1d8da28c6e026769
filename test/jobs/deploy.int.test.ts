/**
 * The deploy/ examples. No container engine or Kubernetes runs here (no API server either, so no
 * Pod Security admission): these checks parse the files, check the fields that make them work
 * (the restricted Pod Security Standard rule by rule, see restrictedViolations), run the CronJob's
 * unpack command on a real build dir, validate the embedded config with lsbackup's loader, and
 * score the systemd units with the real `systemd-analyze security --offline`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { checkConfigText } from '../../engine/config/load.js';
import { loadInventory } from '../../engine/inventory/index.js';
import { DEFAULT_MACHINE_LOCK_DIR } from '../../engine/lock/index.js';
import { cliOutput, repoRoot, runCli } from '../helpers/cli.js';
import { restrictedViolations } from './pod-security.js';

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
    for (const c of [...pod.initContainers, container]) for (const mount of c.volumeMounts) expect(volumes[mount.name], mount.name).toBeDefined();
    expect(volumes.config.configMap.name).toBe(byKind('ConfigMap').metadata.name);
    expect(volumes['ssh-key'].secret.defaultMode).toBe(0o400);
    // The mounted key and known_hosts are what lsbackup uses (the inventory's paths are the Ansible machine's).
    const mountOf = (name: string) => container.volumeMounts.find((m: { name: string }) => m.name === name).mountPath;
    const arg = (flag: string) => container.args[container.args.indexOf(flag) + 1];
    expect(path.dirname(arg('--ssh-key'))).toBe(mountOf('ssh-key'));
    expect(path.dirname(arg('--known-hosts'))).toBe(mountOf('known-hosts'));
    expect(volumes['known-hosts'].configMap.name).toBe('lsbackup-known-hosts');
  });

  it('passes every rule of the restricted Pod Security Standard, with a read-only root and no service-account token', () => {
    const pod = byKind('CronJob').spec.jobTemplate.spec.template.spec;
    expect(restrictedViolations(pod)).toEqual([]);
    expect(pod.automountServiceAccountToken).toBe(false);
    const containers = [...pod.initContainers, ...pod.containers];
    for (const c of containers) expect(c.securityContext.readOnlyRootFilesystem, c.name).toBe(true);
    // Where lsbackup writes (HOME, TMPDIR, its working directory and lock directory per deploy/Dockerfile) is an emptyDir.
    const [main] = pod.containers;
    const env = Object.fromEntries(main.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    const workdir = /^WORKDIR (\S+)\s*$/gm;
    const lastWorkdir = [...read('Dockerfile').matchAll(workdir)].at(-1)![1]!;
    const lockDir = /^ENV LSBACKUP_LOCK_DIR=(\S+)\s*$/m.exec(read('Dockerfile'))?.[1];
    const emptyDirs = new Set(pod.volumes.filter((v: { emptyDir?: object }) => v.emptyDir).map((v: { name: string }) => v.name));
    for (const dir of [env.HOME, env.TMPDIR, lastWorkdir, lockDir]) {
      expect(
        main.volumeMounts.some((m: { name: string; mountPath: string }) => m.mountPath === dir && emptyDirs.has(m.name)),
        dir,
      ).toBe(true);
    }
    // The check itself catches what it is for.
    const loosened = structuredClone(pod);
    loosened.containers[0].securityContext.capabilities = { add: ['SYS_ADMIN'] };
    loosened.volumes.push({ name: 'host', hostPath: { path: '/' } });
    loosened.securityContext.seccompProfile = { type: 'Unconfined' };
    expect(restrictedViolations(loosened)).toEqual([
      'volumes[host]: hostPath is not an allowed volume type',
      'securityContext.seccompProfile.type: Unconfined (must be RuntimeDefault or Localhost)',
      'containers[lsbackup].securityContext.capabilities.drop must include ALL',
      'containers[lsbackup].securityContext.capabilities.add: SYS_ADMIN (only NET_BIND_SERVICE is allowed)',
    ]);
  });

  it('unpacks the build directory as docs/deploy.md packs it, group_vars and host_vars included', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lsb-deploy-'));
    try {
      const build = path.join(dir, 'mycluster');
      for (const d of ['group_vars', 'host_vars', 'keys/ssh']) mkdirSync(path.join(build, d), { recursive: true });
      writeFileSync(path.join(build, 'inventory'), '[postgresql]\ndb1 ansible_host=10.0.0.5\n');
      writeFileSync(path.join(build, 'group_vars', 'all.yml'), 'from_group_vars: yes\n');
      writeFileSync(path.join(build, 'host_vars', 'db1.yml'), 'from_host_vars: 42\n');
      writeFileSync(path.join(build, 'keys', 'ssh', 'id_rsa'), 'not to be shipped in a ConfigMap\n');
      // The command docs/deploy.md gives, then the init container's own command with the mount paths mapped here.
      const pack = /^tar -C build\/mycluster (.+) -czf build\.tar\.gz \.$/m.exec(readFileSync(path.join(repoRoot, 'docs', 'deploy.md'), 'utf8'));
      expect(pack, 'docs/deploy.md shows the tar command').not.toBeNull();
      execFileSync('sh', ['-c', `tar -C mycluster ${pack![1]} -czf build.tar.gz .`], { cwd: dir });
      const archiveDir = path.join(dir, 'archive');
      mkdirSync(archiveDir);
      execFileSync('mv', [path.join(dir, 'build.tar.gz'), archiveDir]);
      const unpacked = path.join(dir, 'unpacked');
      mkdirSync(unpacked);
      const [init] = byKind('CronJob').spec.jobTemplate.spec.template.spec.initContainers;
      const mapped = (init.command as string[]).map((a) => a.replace('/etc/lsbackup/build-archive', archiveDir).replace(/^\/etc\/lsbackup\/build$/, unpacked));
      execFileSync(mapped[0]!, mapped.slice(1));
      const inventory = await loadInventory(unpacked);
      expect(inventory.hosts.get('db1')!.vars).toMatchObject({ from_group_vars: true, from_host_vars: 42 });
      expect(() => readFileSync(path.join(unpacked, 'keys', 'ssh', 'id_rsa'))).toThrow(/ENOENT/);
      // The config's build is where the init container unpacks.
      expect(byKind('ConfigMap').data['lsbackup.config.yaml']).toMatch(/^build: \/etc\/lsbackup\/build$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
    // The build stage has every directory `npm run build` reads (it runs scripts/build-validators.mjs and
    // scripts/build-prevalidated.mjs, which reads the shipped recipes/ and profiles/).
    const build = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: { build: string } }).scripts.build;
    for (const dir of new Set([...build.matchAll(/\b(scripts|engine|targets|schemas|recipes|profiles)\//g)].map((m) => m[1]!))) {
      expect(docker, dir).toMatch(new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'));
    }
    // The image holds what the npm package ships (package.json "files", dist built in the image) and the licence.
    const runtime = docker.slice(docker.lastIndexOf('\nFROM '));
    const shipped = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { files: string[] }).files.filter((f) => f !== 'dist');
    for (const file of [...shipped, 'LICENSE']) expect(runtime, file).toMatch(new RegExp(`^COPY (?:--from=build /src/)?(?:\\S+ )*\\.?/?${file}\\b`, 'm'));
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

  it('both units score 4.0 or better in `systemd-analyze security --offline`, with StateDirectory, UMask=0077 and LoadCredential', () => {
    for (const unit of ['lsbackup.service', 'lsbackup-scheduler.service']) {
      let out: string;
      try {
        out = execFileSync('systemd-analyze', ['security', '--offline=true', unit], { cwd: path.join(repoRoot, 'deploy', 'systemd'), encoding: 'utf8' });
      } catch (error) {
        throw new Error(
          `systemd-analyze security --offline could not run (${(error as Error).message}); it ships with Debian's systemd package (apt-get install systemd)`,
        );
      }
      const score = /Overall exposure level for \S+: (\d+\.\d+)/.exec(out);
      expect(score, out).not.toBeNull();
      expect(Number(score![1]), out).toBeLessThanOrEqual(4.0);
      const text = read(`systemd/${unit}`);
      expect(text, unit).toMatch(/^StateDirectory=lsbackup$/m);
      expect(text, unit).toMatch(/^UMask=0077$/m);
      // The cluster locks are in /run/lock/lsbackup, shared with every other user's runs, and in /run/lock for older
      // versions' runs (ProtectSystem=strict makes them read-only; lsbackup makes its directory where the snippet did not).
      expect(text, unit).toMatch(/^ReadWritePaths=\/run\/lock$/m);
      expect(text, unit).toMatch(/^LoadCredential=\w+:\/etc\/lsbackup\/credentials\/\w+$/m);
      // Secrets are credentials now; an environment file holds no secret and may be absent.
      expect(text, unit).not.toMatch(/^EnvironmentFile=\//m);
    }
  });

  it("the tmpfiles.d snippet makes the lock directory lsbackup uses, 1777 and root's, as docs/deploy.md shows it", () => {
    const snippet = read('systemd/tmpfiles.d/lsbackup.conf');
    const lines = snippet.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(lines).toEqual([`d ${DEFAULT_MACHINE_LOCK_DIR} 1777 root root -`]);
    expect(readFileSync(path.join(repoRoot, 'docs', 'deploy.md'), 'utf8').replace(/\s+/g, ' ')).toContain(`\`${lines[0]}\``);
    // Its install line is the one lsbackup.service gives.
    expect(read('systemd/lsbackup.service')).toContain('systemd-tmpfiles --create lsbackup.conf');
  });

  it("the units' Documentation= names a file the package ships", () => {
    const files = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { files: string[] }).files;
    for (const unit of ['lsbackup.service', 'lsbackup-scheduler.service']) {
      const doc = /^Documentation=file:\/\/\/usr\/lib\/node_modules\/lsbackup\/(.+)$/m.exec(read(`systemd/${unit}`));
      expect(doc, unit).not.toBeNull();
      expect(files).toContain(doc![1]!.split('/')[0]);
      expect(() => readFileSync(path.join(repoRoot, doc![1]!))).not.toThrow();
    }
  });

  it('${NAME} in the config is read from $CREDENTIALS_DIRECTORY/NAME (LoadCredential=) when the environment has no NAME', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lsb-credentials-'));
    try {
      const config = path.join(dir, 'lsbackup.config.yaml');
      writeFileSync(config, 'apiVersion: lsbackup/v1\nkind: Config\ntargets:\n  - uri: ${BACKUP_DIR}\n');
      const without = await runCli(['config', 'validate', '-c', config]);
      expect(without.exitCode, cliOutput(without)).toBe(78);
      expect(without.stderr).toContain("environment variable 'BACKUP_DIR' is not set");
      const credentials = path.join(dir, 'credentials');
      mkdirSync(credentials, { mode: 0o700 });
      writeFileSync(path.join(credentials, 'BACKUP_DIR'), path.join(dir, 'backups') + '\n', { mode: 0o400 });
      const withCredential = await runCli(['config', 'show', '-c', config, '--json'], { env: { CREDENTIALS_DIRECTORY: credentials } });
      expect(withCredential.exitCode, cliOutput(withCredential)).toBe(0);
      expect(withCredential.stdout).toContain(JSON.stringify(path.join(dir, 'backups')));
      const gone = path.join(dir, 'no-such-dir');
      const unreadable = await runCli(['config', 'show', '-c', config], { env: { CREDENTIALS_DIRECTORY: gone } });
      expect(unreadable.exitCode, cliOutput(unreadable)).toBe(78);
      expect(unreadable.stderr).toContain(`cannot read the credentials in ${gone} (ENOENT)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
