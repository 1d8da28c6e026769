import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { LocalExecutor } from '../../engine/executors/local.js';
import { SshExecutor } from '../../engine/executors/ssh.js';
import { readHostFile, writeHostFile } from '../../engine/executors/files.js';
import type { Executor } from '../../engine/executors/types.js';
import { startFleet, type Fleet } from '../fleet/fleet.js';

let dir: string;
let fleet: Fleet;
const executors: Record<string, () => Executor> = {};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lsb-files-'));
  fleet = await startFleet({ hosts: 1 });
  const h = fleet.hosts[0]!;
  executors.local = () => new LocalExecutor('local');
  executors.ssh = () =>
    new SshExecutor(
      { name: h.name, connection: { kind: 'ssh', address: h.address, port: h.port, user: 'lsbtest', privateKeyFile: fleet.clientKey, sshArgs: ['-o', `UserKnownHostsFile=${fleet.knownHosts}`] } },
      {},
    );
});
afterAll(async () => {
  await fleet?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function collect(run: (dest: PassThrough) => Promise<unknown>): Promise<Buffer> {
  const dest = new PassThrough();
  const chunks: Buffer[] = [];
  dest.on('data', (c: Buffer) => chunks.push(c));
  await run(dest);
  return Buffer.concat(chunks);
}

describe.each(['local', 'ssh'])('single files on a %s host', (kind) => {
  it('writes a file atomically with its mode (become root) and reads it back', async () => {
    const executor = executors[kind]!();
    try {
      const body = randomBytes(3 * 1024 * 1024);
      const file = path.join(dir, `${kind} file with spaces;$(x).bin`);
      const w = await writeHostFile(executor, file, Readable.from([body]), { mode: 0o640, become: { user: 'root', method: 'sudo' } });
      expect(w.failed, w.stderr).toBe(false);
      expect((await stat(file)).mode & 0o777).toBe(0o640);
      expect(createHash('sha256').update(await readFile(file)).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
      const back = await collect((dest) => readHostFile(executor, file, dest, { become: { user: 'root', method: 'sudo' } }));
      expect(back.equals(body)).toBe(true);
      expect((await readdir(dir)).filter((n) => n.startsWith('.lsbackup-tmp-'))).toEqual([]);
    } finally {
      await executor.close();
    }
  });

  it('keeps the old file when the write fails, and reports a missing file on read', async () => {
    const executor = executors[kind]!();
    try {
      const file = path.join(dir, `${kind}-keep.txt`);
      await writeFile(file, 'old');
      const root = { user: 'root', method: 'sudo' } as const;
      // A source that sends some bytes, then fails: the old file must survive whole.
      let sent = false;
      const failing = new Readable({
        read() {
          if (!sent) {
            sent = true;
            this.push(Buffer.from('partial new content'));
          } else setTimeout(() => this.destroy(new Error('source broke')), 200);
        },
      });
      const w = await writeHostFile(executor, file, failing, { become: root });
      expect(w.failed).toBe(true);
      expect(await readFile(file, 'utf8')).toBe('old');
      // Cleaned up by the time the write reports its failure (the command was waited for, then rm'd).
      expect((await readdir(dir)).filter((n) => n.startsWith('.lsbackup-tmp-'))).toEqual([]);
      const r = await readHostFile(executor, path.join(dir, 'missing'), new PassThrough().resume(), { become: root });
      expect(r.failed).toBe(true);
      expect(r.stderr).toContain('No such file');
    } finally {
      await executor.close();
    }
  });
});
