import type { Target } from '../../targets/types.js';
import { verifyBackup } from '../catalog/verify.js';
import { isWarning } from '../archive/verify.js';
import { isLsError, LsError } from '../errors.js';
import type { TrustedKey } from '../signing/index.js';
import type { TargetReport } from './report.js';

/**
 * A job's `verify: true`: each copy this run stored is read back from its target and checked as
 * `lsbackup verify` does (stored digest against the sidecar, every entry against metadata.json,
 * the signature). What a target damaged on the way in or at rest is caught while the hosts'
 * data is still fresh, not on the day of a restore.
 */
export async function verifyCopies(
  copies: TargetReport[],
  targets: Target[],
  options: { identities?: string[]; trusted: TrustedKey[]; warn: (m: string) => void },
): Promise<TargetReport[]> {
  return Promise.all(
    copies.map(async (copy): Promise<TargetReport> => {
      if (!copy.name) return copy;
      const target = targets.find((t) => t.uri === copy.target)!;
      try {
        const checked = await verifyBackup(target, copy.name, options);
        const problems = checked.problems.filter((p) => p.kind !== 'encrypted' && !isWarning(p)).map((p) => p.message);
        if (!checked.ok) options.warn(verifyFailure(copy.name, copy.target, problems).message);
        return { ...copy, verify: { ok: checked.ok, ...(checked.ok ? {} : { problems }) } };
      } catch (e) {
        if (!isLsError(e)) throw e;
        options.warn(verifyFailure(copy.name, copy.target, [e.message]).message);
        return { ...copy, verify: { ok: false, problems: [e.message] } };
      }
    }),
  );
}

/** The run's error when a stored copy did not verify: which copy, where, and the first problems. */
export function verifyFailure(name: string, target: string, problems: string[]): LsError {
  const shown = problems.slice(0, 3).join('; ') + (problems.length > 3 ? `; and ${problems.length - 3} more` : '');
  return new LsError('EARCHIVE', {
    archive: `${name} in ${target}`,
    message: `verify after the backup FAILED: ${shown || 'see lsbackup verify'} (the stored copy is damaged; retention left that target alone; run 'lsbackup verify' on it, check the target's storage and run the job again)`,
  });
}
