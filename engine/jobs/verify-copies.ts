import type { Target } from '../../targets/types.js';
import { isNote, verifyBackup } from '../catalog/verify.js';
import { isWarning } from '../archive/verify.js';
import { recordVerifyFindings } from '../catalog/damage.js';
import { describeDamage } from '../catalog/render.js';
import { isLsError, LsError } from '../errors.js';
import type { TrustedKey } from '../signing/index.js';
import type { TargetReport } from './report.js';
import type { EncryptionConfig } from '../config/load.js';

/**
 * A job's `verify: true`: each copy this run stored is read back from its target and checked as
 * `lsbackup verify` does (stored digest against the sidecar, every entry against metadata.json,
 * the signature). What a target damaged on the way in or at rest is caught while the hosts'
 * data is still fresh, not on the day of a restore. What it finds damaged (this copy, or a
 * member of its chain) is recorded in the target as `lsbackup verify` records it, so no later
 * run builds on it (catalog/damage.ts).
 */
export async function verifyCopies(
  copies: TargetReport[],
  targets: Target[],
  options: { job: string; identities?: string[]; trusted: TrustedKey[]; warn: (m: string) => void },
): Promise<TargetReport[]> {
  return Promise.all(
    copies.map(async (copy): Promise<TargetReport> => {
      if (!copy.name) return copy;
      const target = targets.find((t) => t.uri === copy.target)!;
      try {
        const checked = await verifyBackup(target, copy.name, options);
        const record = await recordVerifyFindings(target, checked, `job ${options.job}'s verify`);
        const problems = checked.problems.filter((p) => !isNote(p) && !isWarning(p)).map((p) => p.message);
        const verified = {
          ...copy,
          verify: {
            ok: checked.ok,
            ...(checked.ok ? {} : { problems }),
            ...(checked.damaged ? { damaged: checked.damaged } : {}),
            ...(record.cleared.length || record.failed ? { damageRecord: record } : {}),
          },
        };
        if (!checked.ok) options.warn(verifyFailure(verified).message);
        // Said, not passed over as a note: `verify: true` promises every entry checked, and the report said ok.
        else if (checked.problems.some((p) => p.kind === 'encrypted')) options.warn(digestOnly(copy));
        return verified;
      } catch (e) {
        if (!isLsError(e)) throw e;
        const failed = { ...copy, verify: { ok: false, problems: [e.message] } };
        options.warn(verifyFailure(failed).message);
        return failed;
      }
    }),
  );
}

/**
 * The run's error when a stored copy did not verify: which copy, where, the first problems, and
 * what verify found damaged and what the next run does about it.
 */
export function verifyFailure(copy: TargetReport): LsError {
  const { name, target } = copy;
  const problems = copy.verify?.problems ?? [];
  const shown = problems.slice(0, 3).join('; ') + (problems.length > 3 ? `; and ${problems.length - 3} more` : '');
  const damage = describeDamage({ name: name!, damaged: copy.verify?.damaged }, copy.verify?.damageRecord ?? { cleared: [] }).map((l) => l.replace(/\s+/, ' '));
  // Found damaged and recorded: the next run does not build on it. Else (the read failed) only a look at the target tells.
  const next = damage.length
    ? `${damage.join('; ')}; check the target's storage`
    : "run 'lsbackup verify' on it, check the target's storage and run the job again";
  return new LsError('EARCHIVE', {
    archive: `${name} in ${target}`,
    message: `verify after the backup FAILED: ${shown || 'see lsbackup verify'} (${next}; retention left that target alone)`,
  });
}

/** How a job's verify gets to check an encrypted copy's entries, not only its stored digest. */
const OPEN_THEM = '(set encryption.identityFile to an age identity that opens the backups)';

function digestOnly(copy: TargetReport): string {
  return (
    `verify after the backup checked only the stored digest of ${copy.name} in ${copy.target}: it is encrypted and the config sets no ` +
    `encryption.identityFile, so its entries were not checked against metadata.json ${OPEN_THEM}`
  );
}

/** What `config validate` warns about `verify: true`: copies it could only check by their digest. */
export function verifyWarnings(jobs: { name: string; verify?: boolean }[], encryption: EncryptionConfig | undefined): string[] {
  if (!encryption?.recipients?.length || encryption.identityFile) return [];
  return jobs
    .filter((j) => j.verify)
    .map(
      (j) =>
        `job '${j.name}' sets verify: true, but its backups are encrypted and the config sets no encryption.identityFile: ` +
        `verify can check only their stored digest, not their entries against metadata.json ${OPEN_THEM}`,
    );
}
