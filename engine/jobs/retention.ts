import type { Target } from '../../targets/types.js';
import { prune } from '../catalog/prune.js';
import { hasRules, type RetentionPolicy } from '../catalog/retention.js';
import { withTargetLock } from '../lock/index.js';

const RETENTION_LOCK_WAIT_MS = 10 * 60 * 1000;

/** What retention did in one target (the names it deleted and kept). */
export interface RetentionOutcome {
  deleted: string[];
  kept: string[];
}

/** Has the policy any rule at all? An empty one means "keep everything". */
export function hasRetention(policy: RetentionPolicy | undefined): policy is RetentionPolicy {
  return policy !== undefined && hasRules(policy);
}

/** Applies a job's retention to one target after a run: the catalog's prune, for real. */
export async function applyRetention(
  target: Target,
  policy: RetentionPolicy | undefined,
  identities?: string[],
): Promise<RetentionOutcome | undefined> {
  if (!hasRetention(policy)) return undefined;
  // Under the target's lock, waiting a while for another run writing there: never a race.
  const result = await withTargetLock(target, { waitMs: RETENTION_LOCK_WAIT_MS }, () => prune(target, policy, { identities }));
  return { deleted: result.remove.map((b) => b.name), kept: result.keep.map((k) => k.backup.name) };
}
