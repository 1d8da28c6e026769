/**
 * The host half of a content-addressed output (engine/runner/content-addressed-output.ts), run
 * with this machine's sh: the digest comes first, the bytes only when they differ from the
 * base's, nothing when the command fails, the bytes whole when no temporary file can be made;
 * the temporary file is gone afterwards. And what the controller makes of what arrived.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentAddressedOutcome, contentAddressedOutputCommand, referableOutput } from '../../engine/runner/content-addressed-output.js';

const sha = (b: string) => createHash('sha256').update(b).digest('hex');
const OUTPUT = 'dump line 1\ndump line 2\n';

let tmp: string;
beforeEach(async () => void (tmp = await mkdtemp(path.join(os.tmpdir(), 'lsb-cao-'))));
afterEach(async () => rm(tmp, { recursive: true, force: true }));

async function onHost(command: string, baseSha256: string, env: Record<string, string> = { TMPDIR: tmp }) {
  const r = await execa('sh', ['-c', contentAddressedOutputCommand(command, baseSha256)], { env, reject: false, encoding: 'buffer', stripFinalNewline: false });
  return { exitCode: r.exitCode, stdout: Buffer.from(r.stdout).toString('latin1') };
}

describe('the host wrapper', () => {
  it('unchanged: the digest only; changed: the digest and the bytes; the temporary file is removed', async () => {
    const digest = `${sha(OUTPUT)} ${OUTPUT.length}`;
    const same = await onHost(`printf '%s' '${OUTPUT}'`, sha(OUTPUT));
    expect(same).toEqual({ exitCode: 0, stdout: `lsbackup-manifest ${digest.length}\n${digest}` });
    const other = await onHost(`printf '%s' '${OUTPUT}'`, sha('before'));
    expect(other).toEqual({ exitCode: 0, stdout: `lsbackup-manifest ${digest.length}\n${digest}${OUTPUT}` });
    expect(await readdir(tmp)).toEqual([]);
  });

  it('a failing command sends nothing and keeps its exit code, even when its output equals the base', async () => {
    expect(await onHost(`printf '%s' '${OUTPUT}'; exit 3`, sha(OUTPUT))).toEqual({ exitCode: 3, stdout: '' });
    expect(await readdir(tmp)).toEqual([]);
  });

  it('no temporary file: an empty digest, then the bytes as the command writes them', async () => {
    const r = await onHost(`printf '%s' '${OUTPUT}'`, sha(OUTPUT), { TMPDIR: path.join(tmp, 'absent') });
    expect(r).toEqual({ exitCode: 0, stdout: `lsbackup-manifest 0\n${OUTPUT}` });
  });

  it('a base sha256 that is not 64 hex digits never becomes part of the script', () => {
    expect(() => contentAddressedOutputCommand('true', `${sha('x')}; rm -rf /`)).toThrow(/not a sha256/);
  });
});

describe('what the controller makes of it', () => {
  const base = { sha256: sha(OUTPUT), size: OUTPUT.length };
  const framed = (digest: string) => ({ manifest: Buffer.from(digest) });
  it('a reference only for the base sha256 and size with no bytes after it', () => {
    expect(contentAddressedOutcome(framed(`${base.sha256} ${base.size}`), 0, base)).toEqual({ unchanged: true });
    expect(contentAddressedOutcome(framed(`${sha('new')} 3`), 3, base)).toEqual({ unchanged: false });
    expect(contentAddressedOutcome(framed(''), 0, base)).toEqual({ unchanged: false });
  });
  it('bytes cut short, a size that contradicts the sha256, or no frame: an error, never a reference', () => {
    expect(contentAddressedOutcome(framed(`${sha('new')} 10`), 4, base).error).toMatch(/reported 10 bytes of output and sent 4/);
    expect(contentAddressedOutcome(framed(`${base.sha256} 99`), 0, base).error).toMatch(/base holds/);
    expect(contentAddressedOutcome(framed('garbage'), 0, base).error).toMatch(/not '<sha256> <size>'/);
    expect(contentAddressedOutcome({ manifest: Buffer.alloc(0), error: 'the host sent no manifest header' }, 0, base)).toEqual({
      unchanged: false,
      error: 'the host sent no manifest header',
    });
  });
  it('a base entry may be referred to only when it holds (or names the holder of) bytes with a sha256', () => {
    const record = { path: 'app/h/out', type: 'file' as const, size: 3, sha256: sha('abc'), mode: 0o600, mtime: '2026-01-01T00:00:00.000Z' };
    expect(referableOutput(record)).toBe(true);
    expect(referableOutput({ ...record, ref: 'older' })).toBe(true);
    expect(referableOutput(undefined)).toBe(false);
    expect(referableOutput({ ...record, sha256: undefined })).toBe(false);
    expect(referableOutput({ ...record, error: 'read failed' })).toBe(false);
    expect(referableOutput({ ...record, type: 'symlink' as const })).toBe(false);
  });
});
