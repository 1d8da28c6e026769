/**
 * etcd's PKI laid out as kubeadm writes it under /etc/kubernetes/pki/etcd: ca.{crt,key},
 * server.{crt,key} (for 127.0.0.1 and localhost) and the healthcheck-client.{crt,key} a
 * backup uses. Made with openssl, a fresh CA per call.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked } from './common.js';

export interface EtcdPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export async function writeEtcdPki(dir: string): Promise<EtcdPki> {
  await mkdir(dir, { recursive: true });
  const f = (name: string) => join(dir, name);
  const openssl = (args: string[]) => runChecked('openssl', args);
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=etcd-ca', '-keyout', f('ca.key'), '-out', f('ca.crt')]);
  const issue = async (name: string, subject: string, ext: string) => {
    await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`)]);
    await writeFile(f(`${name}.ext`), ext + '\n');
    await openssl([
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
      '-out',
      f(`${name}.crt`),
    ]);
    await runChecked('rm', ['-f', f(`${name}.csr`), f(`${name}.ext`), f('ca.srl')]);
  };
  await issue('server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth');
  // kubeadm's etcd/healthcheck-client: O=system:masters, client auth only.
  await issue('healthcheck-client', '/O=system:masters/CN=kube-etcd-healthcheck-client', 'extendedKeyUsage=clientAuth');
  return {
    dir,
    caCert: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('healthcheck-client.crt'),
    clientKey: f('healthcheck-client.key'),
  };
}
