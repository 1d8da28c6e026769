/** What list/show/verify/get/prune share: the config, the one target, the identity, the backup named. */
import { parseIdentityFile } from '../crypto/identity-file.js';
import { parseBackupReference, resolveBackupName } from '../catalog/locate.js';
import type { DecryptOptions } from '../catalog/objects.js';
import type { Target } from '../../targets/types.js';
import type { Redactor } from '../secrets/types.js';
import { loadRunConfig } from './config.js';
import { openOneTarget, type TargetFlags } from './targets.js';
import { unmaskableSecretWarnings } from './secrets.js';

export interface CatalogOptions extends TargetFlags {
  config?: string;
  /** age identity file to decrypt with. */
  identity?: string;
  /** The cluster whose backups `latest` (and list/prune) mean. */
  cluster?: string;
  json?: boolean;
}

export interface CatalogSession extends DecryptOptions {
  target: Target;
  /** --cluster, else the config's `cluster`; undefined when neither names one. */
  cluster?: string;
}

export async function catalogSession(options: CatalogOptions, redactor: Redactor): Promise<CatalogSession> {
  const config = await loadRunConfig(options);
  const identityFile = options.identity ?? config.encryption?.identityFile;
  const identities = identityFile ? await parseIdentityFile(identityFile) : undefined;
  const target = await openOneTarget(options, config, redactor);
  // The target's credentials joined the redactor: one too short to be masked is named, as a run names it.
  for (const m of unmaskableSecretWarnings(redactor)) process.stderr.write(`warning: ${m}\n`);
  return { target, identities, cluster: options.cluster ?? config.cluster };
}

/** The session for a command about one backup: its target may come from the argument itself. */
export async function backupSession(spec: string, options: CatalogOptions, redactor: Redactor): Promise<CatalogSession & { name: string }> {
  const ref = parseBackupReference(spec);
  const session = await catalogSession(ref.targetUri ? { ...options, target: [ref.targetUri] } : options, redactor);
  const onWarning = (m: string) => process.stderr.write(`warning: ${m}\n`);
  return { ...session, name: await resolveBackupName(session.target, ref.name, { ...session, onWarning }) };
}
