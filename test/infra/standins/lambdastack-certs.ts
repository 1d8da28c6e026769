/**
 * The certificates LambdaStack's opendistro_for_elasticsearch role puts into /etc/elasticsearch
 * (roles/opendistro_for_elasticsearch/defaults/main.yml there): a root CA
 * `lambdastack-root-ca.pem`, a node certificate `lambdastack-node-<host>.pem` for the host's
 * names and address, and the admin client certificate `lambdastack-admin.pem` /
 * `lambdastack-admin-key.pem` (CN=LambdaStack Admin,OU=R&D,O=LambdaStack). LambdaStack signs the
 * admin certificate with `ownca_not_after: 20221231235959Z`, so on clusters deployed with its
 * defaults it has EXPIRED; `adminExpired` makes it so here. Made with the real openssl CLI.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked } from '../servers/common.js';

export interface LambdaStackCerts {
  dir: string;
  rootCa: string;
  rootCaKey: string;
  nodeCert: string;
  nodeKey: string;
  adminCert: string;
  adminKey: string;
  /** The admin DN as LambdaStack writes it into opendistro_security.authcz.admin_dn. */
  adminDn: string;
}

const SUBJECT = '/O=LambdaStack/OU=R&D';
// Both valid ranges are explicit (openssl ca -startdate/-enddate): never "now"-relative.
const VALID = ['-startdate', '20200101000000Z', '-enddate', '20991231235959Z'];
const EXPIRED = ['-startdate', '20200101000000Z', '-enddate', '20221231235959Z'];

/** Writes the certificate set into `dir` for a node reached as `names` (DNS) and `ip`. */
export async function makeLambdaStackCerts(
  dir: string,
  opts: { host: string; names: string[]; ip: string; adminExpired?: boolean },
): Promise<LambdaStackCerts> {
  const work = join(dir, '.ca');
  await mkdir(join(work, 'new'), { recursive: true });
  await writeFile(join(work, 'index.txt'), '');
  await writeFile(join(work, 'serial'), '1000\n');
  const config = join(work, 'ca.cnf');
  await writeFile(
    config,
    [
      '[ca]',
      'default_ca = lsb',
      '[lsb]',
      `database = ${join(work, 'index.txt')}`,
      `new_certs_dir = ${join(work, 'new')}`,
      `serial = ${join(work, 'serial')}`,
      'default_md = sha256',
      'policy = any',
      'copy_extensions = copy',
      'unique_subject = no',
      '[any]',
      'commonName = supplied',
      'organizationName = optional',
      'organizationalUnitName = optional',
      '',
    ].join('\n'),
  );
  const f = (name: string) => join(dir, name);
  const certs: LambdaStackCerts = {
    dir,
    rootCa: f('lambdastack-root-ca.pem'),
    rootCaKey: f('lambdastack-root-ca-key.pem'),
    nodeCert: f(`lambdastack-node-${opts.host}.pem`),
    nodeKey: f(`lambdastack-node-${opts.host}-key.pem`),
    adminCert: f('lambdastack-admin.pem'),
    adminKey: f('lambdastack-admin-key.pem'),
    adminDn: 'CN=LambdaStack Admin,OU=R&D,O=LambdaStack',
  };
  await runChecked('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    certs.rootCaKey,
    '-out',
    certs.rootCa,
    '-days',
    '36500',
    '-subj',
    `${SUBJECT}/CN=LambdaStack Managed ODFE Root CA`,
  ]);
  const sign = async (cert: string, key: string, cn: string, dates: string[], ext: string[]) => {
    const csr = join(work, `${cn.replace(/\W/g, '_')}.csr`);
    await runChecked('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `${SUBJECT}/CN=${cn}`, ...ext]);
    await runChecked('openssl', [
      'ca',
      '-batch',
      '-notext',
      '-config',
      config,
      '-cert',
      certs.rootCa,
      '-keyfile',
      certs.rootCaKey,
      '-in',
      csr,
      '-out',
      cert,
      ...dates,
    ]);
  };
  const san = [...opts.names.map((n) => `DNS:${n}`), `IP:${opts.ip}`].join(',');
  await sign(certs.nodeCert, certs.nodeKey, opts.host, VALID, ['-addext', `subjectAltName=${san}`, '-addext', 'extendedKeyUsage=serverAuth,clientAuth']);
  await sign(certs.adminCert, certs.adminKey, 'LambdaStack Admin', opts.adminExpired ? EXPIRED : VALID, ['-addext', 'extendedKeyUsage=clientAuth']);
  return certs;
}
