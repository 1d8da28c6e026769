/**
 * Self-signed certificates made the way LambdaStack's roles make them (`openssl req -x509
 * -subj "/C=US/ST=NY/L=NY/O=NA/CN=localhost"`, roles/grafana/tasks/configure.yml), optionally
 * already expired: LambdaStack never renews them (365 days), so a cluster older than a year
 * serves an expired one. `openssl ca -selfsign` is the only stock way to back-date a certificate.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked } from '../servers/common.js';

export const LAMBDASTACK_SUBJECT = '/C=US/ST=NY/L=NY/O=NA/CN=localhost';

/** Writes `certFile` and `keyFile` (PEM, RSA 2048). `expired`: valid 2024-01-01 to 2025-01-01 only. */
export async function writeSelfSignedCert(certFile: string, keyFile: string, opts: { expired?: boolean; subject?: string } = {}): Promise<void> {
  const subject = opts.subject ?? LAMBDASTACK_SUBJECT;
  await runChecked('openssl', ['version']).catch(() => {
    throw new Error("this test needs 'openssl' from the Debian package openssl: run sh test/infra/install-packages.sh (as root)");
  });
  if (!opts.expired) {
    await runChecked('openssl', [
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-days',
      '365',
      '-nodes',
      '-x509',
      '-subj',
      subject,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ]);
    return;
  }
  const ca = await mkdtemp(join(tmpdir(), 'lsb-selfsign-'));
  try {
    await writeFile(join(ca, 'index.txt'), '');
    await writeFile(join(ca, 'serial'), '01\n');
    await writeFile(
      join(ca, 'ca.cnf'),
      [
        '[ca]',
        'default_ca = d',
        '[d]',
        `database = ${ca}/index.txt`,
        `serial = ${ca}/serial`,
        `new_certs_dir = ${ca}`,
        'default_md = sha256',
        'policy = p',
        'preserve = yes',
        'unique_subject = no',
        '[p]',
        'commonName = supplied',
        '',
      ].join('\n'),
    );
    const csr = join(ca, 'req.csr');
    await runChecked('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', keyFile, '-out', csr]);
    await runChecked('openssl', [
      'ca',
      '-config',
      join(ca, 'ca.cnf'),
      '-selfsign',
      '-keyfile',
      keyFile,
      '-in',
      csr,
      '-out',
      certFile,
      '-startdate',
      '20240101000000Z',
      '-enddate',
      '20250101000000Z',
      '-batch',
      '-notext',
    ]);
  } finally {
    await rm(ca, { recursive: true, force: true });
  }
}

/**
 * This machine's first non-loopback IPv4 address: where LambdaStack binds Kibana
 * (`server.host: ansible_default_ipv4.address`). Throws when there is none, naming the need.
 */
export function hostIPv4(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('this test needs a non-loopback IPv4 address on this machine (LambdaStack binds Kibana to the host address, not 127.0.0.1)');
}
