import { describe, it, expect } from 'vitest';
import { startZooKeeper } from './servers/zookeeper.js';
import { expectStoppedClean } from './assert-gone.js';

describe('ZooKeeper 3.8 (real server)', () => {
  it('answers 4lw ruok/srvr and zkCli create/get, then stops clean', async () => {
    const zk = await startZooKeeper();
    try {
      expect(await zk.fourLetter('ruok')).toBe('imok');
      expect(await zk.fourLetter('srvr')).toMatch(/Mode: standalone/);
      await zk.zkCli(['create', '/lsb', 'hello']);
      expect(await zk.zkCli(['get', '/lsb'])).toMatch(/^hello$/m);
    } finally {
      await zk.stop();
    }
    await expectStoppedClean(zk);
  });
});
