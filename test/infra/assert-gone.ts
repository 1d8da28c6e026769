/** Shared assertion for server tests: after stop(), nothing of the server is left. */
import { expect } from 'vitest';
import { isAlive, pathExists, processesMentioning } from './servers/common.js';

export async function expectStoppedClean(server: { pid: number; baseDir: string }): Promise<void> {
  expect(isAlive(server.pid), `pid ${server.pid} still alive`).toBe(false);
  expect(processesMentioning(server.baseDir), `processes still using ${server.baseDir}`).toEqual([]);
  expect(await pathExists(server.baseDir), `${server.baseDir} not removed`).toBe(false);
}
