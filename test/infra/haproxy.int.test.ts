import { describe, it, expect } from 'vitest';
import { startHaproxy } from './servers/haproxy.js';
import { expectStoppedClean } from './assert-gone.js';

describe('HAProxy 2.6 (real server)', () => {
  it('has a valid config, answers on its stats socket and frontend, stops clean', async () => {
    const hap = await startHaproxy();
    try {
      expect(await hap.checkConfig()).toMatch(/Configuration file is valid/);
      const info = await hap.stats('show info');
      expect(info).toMatch(/^Name: HAProxy$/m);
      expect(info).toMatch(new RegExp(`^Pid: ${hap.pid}$`, 'm'));
      // Backend is down: HAProxy itself answers 503 on the frontend.
      const res = await fetch(`http://127.0.0.1:${hap.port}/`);
      expect(res.status).toBe(503);
    } finally {
      await hap.stop();
    }
    await expectStoppedClean(hap);
  });
});
