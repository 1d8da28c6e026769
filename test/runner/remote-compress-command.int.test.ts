/**
 * The host-side wrapper of `compress: remote`, run by this machine's real /bin/sh (dash on
 * Debian, no pipefail) with the real zstd: the command's bytes come back exactly, its exit
 * status and stderr survive, and a failing or missing zstd fails the wrapper.
 */
import { execa } from 'execa';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_ZSTD_EXIT, NO_ZSTD_ON_HOST, remoteCompressCommand } from '../../engine/runner/remote-compress-command.js';
import { collectCommand } from '../../engine/runner/collect-command.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lsb-remote-zstd-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** Runs the wrapped command with sh; stdout as bytes. */
async function wrapped(command: string, options: { env?: Record<string, string>; stdoutFile?: string } = {}) {
  // The wrapper's stdout redirected by a shell, so a write error reaches zstd itself.
  const argv = options.stdoutFile
    ? ['-c', 'exec sh -c "$1" > "$2"', 'sh', remoteCompressCommand(command), options.stdoutFile]
    : ['-c', remoteCompressCommand(command)];
  const r = await execa('sh', argv, { reject: false, encoding: 'buffer', stripFinalNewline: false, env: options.env, extendEnv: options.env === undefined });
  return { exitCode: r.exitCode, stdout: Buffer.from(r.stdout ?? []), stderr: Buffer.from(r.stderr).toString('utf8') };
}

async function unzstd(bytes: Buffer): Promise<Buffer> {
  return Buffer.from((await execa('zstd', ['-d', '-q', '-c'], { input: bytes, encoding: 'buffer', stripFinalNewline: false })).stdout);
}

describe('remoteCompressCommand', () => {
  it('sends exactly what the command wrote, as one zstd stream', async () => {
    const file = path.join(dir, 'mixed.bin');
    await execa('sh', ['-c', `{ seq 1 20000; head -c 300000 /dev/urandom; printf 'no final newline'; } > '${file}'`]);
    const r = await wrapped(`cat '${file}'`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect((await unzstd(r.stdout)).equals(await readFile(file))).toBe(true);
  });

  it("keeps the command's exit status and stderr", async () => {
    const r = await wrapped('echo partial; echo "it broke" >&2; exit 3');
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toBe('it broke\n');
    expect((await unzstd(r.stdout)).toString()).toBe('partial\n');
  });

  it('runs a collect command (which ends in exec tar) in its own shell; a missing path still exits 3', async () => {
    await writeFile(path.join(dir, 'conf.txt'), 'key = value\n');
    const ok = await wrapped(collectCommand([`'${dir}/conf.txt'`], [], false));
    expect(ok.exitCode, ok.stderr).toBe(0);
    const listing = await execa('tar', ['-tf', '-'], { input: await unzstd(ok.stdout) });
    expect(listing.stdout).toBe(`${dir.slice(1)}/conf.txt`);
    const missing = await wrapped(collectCommand([`'${dir}/nope'`], [], false));
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toContain(`no such file or directory: ${dir}/nope`);
  });

  it("quotes the command as data: quotes, $, parentheses and comments stay the command's own", async () => {
    const r = await wrapped(`printf '%s|' "it's" '$HOME' "(a)"; case x in x) echo ')';; esac # trailing comment`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await unzstd(r.stdout)).toString()).toBe("it's|$HOME|(a)|)\n");
  });

  it('a command killed by a signal fails with 128+n', async () => {
    const r = await wrapped('echo before; kill -TERM $$');
    expect(r.exitCode).toBe(128 + 15);
  });

  it('fails when zstd fails, and says so, although the command succeeded', async () => {
    // zstd's output cannot be written (/dev/full): a real zstd failure.
    const r = await wrapped('head -c 2000000 /dev/zero', { stdoutFile: '/dev/full' });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/lsbackup: zstd on this host failed \(exit status [1-9]/);
  });

  it('without zstd on the PATH: exits 127 with the marker line, before running the command', async () => {
    // A PATH with the shell tools but no zstd (a host without the package).
    const bin = path.join(dir, 'bin-without-zstd');
    await execa('mkdir', ['-p', bin]);
    for (const tool of ['sh', 'touch']) await symlink((await execa('sh', ['-c', `command -v ${tool}`])).stdout, path.join(bin, tool));
    const ran = path.join(dir, 'ran');
    const r = await wrapped(`touch '${ran}'`, { env: { PATH: bin } });
    expect(r.exitCode).toBe(NO_ZSTD_EXIT);
    expect(r.stderr.trim()).toBe(NO_ZSTD_ON_HOST);
    await expect(readFile(ran)).rejects.toThrow();
  });
});
