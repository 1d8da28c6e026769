/**
 * The signature format against the real OpenSSH: keys made by ssh-keygen in a temp dir, our
 * signatures checked by `ssh-keygen -Y verify`, and ssh-keygen's signatures checked by ours.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { workspace } from '../helpers/cli.js';
import { checkSignature, loadSigner, loadTrustedKeys, SIGNATURE_NAMESPACE } from '../../engine/signing/index.js';
import { checkConfigText } from '../../engine/config/load.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeAll(async () => (ws = await workspace('lsb-sshsig-')));
afterAll(async () => ws?.cleanup());

const message = Buffer.from('{"entries": [{"path": "a", "sha256": "00"}]}\n');

async function keygen(name: string, args: string[]): Promise<string> {
  const file = path.join(ws.dir, name);
  await execa('ssh-keygen', ['-q', '-N', '', '-C', `${name}@test`, '-f', file, ...args]);
  return file;
}

async function allowedSigners(pubFile: string, principal: string): Promise<string> {
  const file = path.join(ws.dir, `${path.basename(pubFile)}.allowed`);
  await writeFile(file, `${principal} ${(await readFile(pubFile, 'utf8')).trim()}\n`);
  return file;
}

const keyTypes: [string, string[]][] = [
  ['ed25519', ['-t', 'ed25519']],
  ['rsa', ['-t', 'rsa', '-b', '2048']],
  ['rsa-pem', ['-t', 'rsa', '-b', '2048', '-m', 'PEM']],
  ['ecdsa256', ['-t', 'ecdsa', '-b', '256']],
  ['ecdsa384', ['-t', 'ecdsa', '-b', '384']],
  ['ecdsa521', ['-t', 'ecdsa', '-b', '521']],
];

describe.each(keyTypes)('%s keys', (name, args) => {
  it('lsbackup signs what ssh-keygen -Y verify accepts, and verifies what ssh-keygen -Y sign made', async () => {
    const key = await keygen(name, args);
    const signers = await allowedSigners(`${key}.pub`, 'ops@example');
    const signer = await loadSigner(key);

    const sigFile = path.join(ws.dir, `${name}.sig`);
    await writeFile(sigFile, signer.sign(message));
    const ok = await execa('ssh-keygen', ['-Y', 'verify', '-f', signers, '-I', 'ops@example', '-n', SIGNATURE_NAMESPACE, '-s', sigFile], {
      input: message,
      reject: false,
    });
    expect(ok.exitCode, ok.stderr + ok.stdout).toBe(0);
    const altered = await execa('ssh-keygen', ['-Y', 'verify', '-f', signers, '-I', 'ops@example', '-n', SIGNATURE_NAMESPACE, '-s', sigFile], {
      input: Buffer.concat([message, Buffer.from(' ')]),
      reject: false,
    });
    expect(altered.exitCode).not.toBe(0);

    const msgFile = path.join(ws.dir, `${name}.msg`);
    await writeFile(msgFile, message);
    await execa('ssh-keygen', ['-Y', 'sign', '-f', key, '-n', SIGNATURE_NAMESPACE, msgFile]);
    const theirs = await readFile(`${msgFile}.sig`);
    const trusted = await loadTrustedKeys([signers]);
    expect(checkSignature(message, theirs, trusted)).toMatchObject({ status: 'trusted', signer: 'ops@example' });
    expect(checkSignature(Buffer.concat([message, Buffer.from(' ')]), theirs, trusted)).toMatchObject({ status: 'bad' });
    expect(checkSignature(message, signer.sign(message), [])).toMatchObject({ status: 'untrusted', fingerprint: signer.fingerprint });
  });
});

describe('trust and refusal', () => {
  it('a signature for another namespace is bad; a key limited to other namespaces is not trusted', async () => {
    const key = await keygen('ns', ['-t', 'ed25519']);
    const msgFile = path.join(ws.dir, 'ns.msg');
    await writeFile(msgFile, message);
    await execa('ssh-keygen', ['-Y', 'sign', '-f', key, '-n', 'git', msgFile]);
    const pub = (await readFile(`${key}.pub`, 'utf8')).trim();
    expect(checkSignature(message, await readFile(`${msgFile}.sig`), await loadTrustedKeys([pub]))).toMatchObject({ status: 'bad', reason: /namespace 'git'/ });

    const signer = await loadSigner(key);
    const limited = path.join(ws.dir, 'limited.allowed');
    await writeFile(limited, `# comment\nops@example namespaces="git,file" ${pub}\n`);
    expect(checkSignature(message, signer.sign(message), await loadTrustedKeys([limited])).status).toBe('untrusted');
    await writeFile(limited, `ops@example namespaces="lsbackup" ${pub}\n`);
    expect(checkSignature(message, signer.sign(message), await loadTrustedKeys([limited])).status).toBe('trusted');
    await writeFile(limited, `ops@example valid-before="20000101" ${pub}\n`);
    expect(checkSignature(message, signer.sign(message), await loadTrustedKeys([limited])).status).toBe('untrusted');
  });

  it('an encrypted, missing or non-key file is a clear error naming it', async () => {
    const encrypted = path.join(ws.dir, 'enc');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret passphrase', '-f', encrypted]);
    await expect(loadSigner(encrypted)).rejects.toThrow(/signing key .*enc cannot be used: the key is protected by a passphrase/);
    await expect(loadSigner(path.join(ws.dir, 'nope'))).rejects.toThrow(/cannot read the signing key .*nope: ENOENT/);
    await expect(loadSigner(`${encrypted}.pub`)).rejects.toThrow(/not a private key/);
    const bad = path.join(ws.dir, 'bad.allowed');
    await writeFile(bad, 'ops@example ssh-dss AAAA\n');
    await expect(loadTrustedKeys([bad])).rejects.toThrow(/bad\.allowed:1: no supported public key/);
  });
});

describe('config signing', () => {
  it('resolves key and trusted files against the config, keeps public key lines as they are', () => {
    const line = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFRPiyCWHMMIkKKPOCp6fILSQM0LdXeIGeYMJeQIsW1/ backup@ci';
    const { config, problems } = checkConfigText(
      '/etc/lsb/lsbackup.config.yaml',
      `apiVersion: lsbackup/v1\nkind: Config\nsigning:\n  key: ./signing\n  trusted: [./allowed_signers, "${line}"]\n`,
    );
    expect(problems).toEqual([]);
    expect(config!.signing).toEqual({ key: '/etc/lsb/signing', trusted: ['/etc/lsb/allowed_signers', line] });
  });
});
