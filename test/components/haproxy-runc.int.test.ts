/**
 * recipes/haproxy.yaml on a load balancer laid out as LambdaStack lays it out: haproxy in a real
 * runc container (test/infra/servers/haproxy-runc.ts), /etc/haproxy and /etc/ssl/haproxy
 * bind-mounted read-only, reloaded with `runc kill <id> SIGUSR2`. Through the built CLI on a
 * real sshd host (user lsbtest, sudo to root).
 *
 * host_vars only move the layout into the container's temp dir (bundle, runc --root, host-side
 * dirs) so the test never touches this machine's /etc or /opt. LambdaStack hosts have no
 * haproxy binary; this machine has Debian's, so the host var `haproxy` names one that does not
 * exist: every haproxy the recipe runs must be the container's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { startRuncHaproxy, type RuncHaproxy } from '../infra/servers/haproxy-runc.js';
import { waitUntil } from '../infra/servers/common.js';
import { componentOf, entrySize, hostOf } from '../helpers/archive.js';
import { cliOutput } from '../helpers/cli.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';

const recipe = shippedRecipe('haproxy');

describe('haproxy recipe, haproxy in a runc container (LambdaStack)', () => {
  let fleet: Fleet;
  let hap: RuncHaproxy;
  let b: Cluster;
  /** The container's temp-dir layout for the recipe, with container id `id`. */
  const hostVars = (id: string) => ({
    haproxy_config_dir: hap.configDir,
    haproxy_config_file: hap.configFile,
    haproxy_ssl_dir: hap.sslDir,
    haproxy_runc_dir: hap.bundleDir,
    haproxy_runc: hap.runc,
    haproxy_runc_id: id,
    haproxy: '/nonexistent/haproxy',
  });
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 1 });
    hap = await startRuncHaproxy();
    b = await createCluster({ fleet, groups: { host1: ['haproxy'] }, hostVars: { host1: hostVars(hap.id) } });
  });
  afterAll(async () => {
    await hap?.stop();
    await fleet?.stop();
    await b?.cleanup();
  });

  const serving = async () => (await fetch(`http://127.0.0.1:${hap.port}/`)).text();
  const servingBecomes = (marker: string) =>
    waitUntil(`haproxy serves '${marker}'`, async () => (await serving()) === marker, { timeoutMs: 60_000, logFile: hap.logFile });
  /** Inodes of the host dirs and of what the container sees at its mount points: equal while the bind mounts hold. */
  const inodes = async () => ({
    config: (await stat(hap.configDir)).ino,
    ssl: (await stat(hap.sslDir)).ino,
    containerConfig: (await stat(hap.containerPath('/etc/haproxy'))).ino,
    containerSsl: (await stat(hap.containerPath('/etc/ssl/haproxy'))).ino,
  });
  const inContainer = (file: string) => readFile(hap.containerPath(file), 'utf8');
  async function liveConfig(marker: string): Promise<string> {
    const text = hap.configText(marker);
    await writeFile(hap.configFile, text);
    await hap.reload();
    await servingBecomes(marker);
    return text;
  }

  it('backs up, and restores in place: validated and reloaded inside the container, bind mounts intact', async () => {
    const cert1 = await hap.writeCertificate('lb-v1');
    const v1 = await liveConfig('v1');
    expect(await hap.servedCertificate()).toBe('lb-v1');
    const before = await inodes();
    expect(before.containerConfig).toBe(before.config);
    expect(before.containerSsl).toBe(before.ssl);

    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    const component = componentOf(run.metadata!, 'haproxy');
    expect(hostOf(component, 'host1').status, JSON.stringify(hostOf(component, 'host1'))).toBe('success');
    // The version comes from the container's binary (there is none on the host).
    expect(component.componentVersion).toMatch(/^2\.\d+\.\d+$/);
    expect(entrySize(run.metadata!, `haproxy/host1/files${hap.configFile}`)).toBe(v1.length);
    expect(entrySize(run.metadata!, `haproxy/host1/files${hap.sslDir}/site.pem`)).toBeGreaterThan(0);

    // Destroy: another config and certificate, live.
    await hap.writeCertificate('lb-v2');
    await liveConfig('v2');
    expect(await hap.servedCertificate()).toBe('lb-v2');
    const reloads = await hap.reloadsLogged();

    const r = await b.restore(run.archive!, ['--only', 'haproxy']);
    expect(r.exitCode, cliOutput(r)).toBe(0);
    // The container serves the restored config: the recipe validated and reloaded it there.
    await servingBecomes('v1');
    expect(await hap.reloadsLogged()).toBe(reloads + 1);
    // Written into the same directories: the container still sees the host dirs, restored.
    expect(await inodes()).toEqual(before);
    expect(await inContainer('/etc/haproxy/haproxy.cfg')).toBe(v1);
    expect(await inContainer('/etc/ssl/haproxy/site.pem')).toBe(cert1);
    expect(await hap.servedCertificate()).toBe('lb-v1');
    // The kept copies are gone (post step).
    await expect(stat(`${hap.configDir}.lsbackup-prev`)).rejects.toThrow();
  });

  it("stops at the container's haproxy -c when the backed-up config is broken: previous files back in place, no reload", async () => {
    const good = await liveConfig('good');
    // A broken file on disk (never loaded) gets into the backup.
    await writeFile(hap.configFile, good.replace('frontend web', 'frontend web\n  no_such_keyword 1'));
    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    await writeFile(hap.configFile, good);
    const before = await inodes();
    const reloads = await hap.reloadsLogged();

    const r = await b.restore(run.archive!, ['--only', 'haproxy']);
    expect(r.exitCode, cliOutput(r)).not.toBe(0);
    const text = r.stdout + r.stderr;
    expect(text).toMatch(/validate with haproxy -c/);
    // haproxy -c's own complaint, about the file at the container's path (not the host's).
    expect(text).toMatch(/Error\(s\) found in configuration file : \/etc\/haproxy\/haproxy\.cfg/);
    expect(text).toMatch(/the restored configuration is invalid/);
    // The previous files are back in the same directories, and the container sees them.
    expect(await inodes()).toEqual(before);
    expect(await readFile(hap.configFile, 'utf8')).toBe(good);
    expect(await inContainer('/etc/haproxy/haproxy.cfg')).toBe(good);
    // Never reloaded; still serving; and a later reload still reads the good config.
    expect(await hap.reloadsLogged()).toBe(reloads);
    expect(await serving()).toBe('good');
    await hap.reload();
    expect(await hap.reloadsLogged()).toBe(reloads + 1);
    expect(await serving()).toBe('good');
  });

  it('puts the previous files back in place when a later files step fails (nothing half-restored, no reload)', async () => {
    // A certificate in a subdirectory, backed up with config 'b1'.
    const subDir = `${hap.sslDir}/sub`;
    await mkdir(subDir);
    await writeFile(`${subDir}/extra.pem`, 'extra\n');
    await liveConfig('b1');
    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    // Now: config 'c2' live, and the subdirectory replaced by a link, which the certificates
    // step refuses to write through after the configuration step already wrote 'b1'.
    const c2 = await liveConfig('c2');
    const elsewhere = await mkdtemp(path.join(os.tmpdir(), 'lsb-haproxy-elsewhere-'));
    await rm(subDir, { recursive: true });
    await symlink(elsewhere, subDir);
    try {
      const before = await inodes();
      const reloads = await hap.reloadsLogged();
      const r = await b.restore(run.archive!, ['--only', 'haproxy']);
      expect(r.exitCode, cliOutput(r)).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/certificates back.*symbolic link/s);
      expect(await readFile(hap.configFile, 'utf8')).toBe(c2);
      expect(await inContainer('/etc/haproxy/haproxy.cfg')).toBe(c2);
      expect(await inodes()).toEqual(before);
      expect(await hap.reloadsLogged()).toBe(reloads);
      expect(await serving()).toBe('c2');
      await expect(stat(`${hap.configDir}.lsbackup-prev`)).rejects.toThrow();
    } finally {
      await rm(subDir, { force: true });
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('refuses before writing anything when the container is not running', async () => {
    const run = await b.apply(recipe);
    expect(run.exitCode, cliOutput(run)).toBe(0);
    const stopped = await createCluster({ fleet, groups: { host1: ['haproxy'] }, hostVars: { host1: hostVars('lsb-haproxy-not-running') } });
    try {
      await writeFile(hap.configFile, hap.configText('kept'));
      const r = await stopped.restore(run.archive!, ['--only', 'haproxy']);
      expect(r.exitCode, cliOutput(r)).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/cannot run haproxy in the runc container lsb-haproxy-not-running.*systemctl start haproxy/s);
      expect(await readFile(hap.configFile, 'utf8')).toBe(hap.configText('kept'));
    } finally {
      await stopped.cleanup();
    }
  });
});
