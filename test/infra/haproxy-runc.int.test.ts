import { readFile, stat, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { startRuncHaproxy } from './servers/haproxy-runc.js';
import { expectStoppedClean } from './assert-gone.js';
import { waitUntil } from './servers/common.js';

describe('HAProxy in a runc container, config bind-mounted (LambdaStack layout)', () => {
  it('serves its bind-mounted config and certificate, reloads on runc kill SIGUSR2, stops clean', async () => {
    const hap = await startRuncHaproxy();
    try {
      const answer = async () => (await fetch(`http://127.0.0.1:${hap.port}/`)).text();
      expect(await answer()).toBe('started');
      expect(await hap.servedCertificate()).toBe('started'); // from the bind-mounted /etc/ssl/haproxy
      // The container sees the host dir itself through the bind mount.
      expect((await stat(hap.containerPath('/etc/haproxy'))).ino).toBe((await stat(hap.configDir)).ino);
      await writeFile(hap.configFile, hap.configText('changed'));
      expect(await readFile(hap.containerPath('/etc/haproxy/haproxy.cfg'), 'utf8')).toBe(hap.configText('changed'));
      await hap.reload();
      await waitUntil('reloaded config serves', async () => (await answer()) === 'changed', { timeoutMs: 120_000, logFile: hap.logFile });
      expect(await hap.reloadsLogged()).toBe(1);
    } finally {
      await hap.stop();
    }
    await expectStoppedClean(hap);
  });
});
