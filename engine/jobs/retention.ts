import type { Target } from '../../targets/types.js';
import type { RetentionPolicy } from '../config/load.js';
import { LsError } from '../errors.js';

/** What retention did in one target (the names it deleted and kept). */
export interface RetentionOutcome {
  deleted: string[];
  kept: string[];
}

/** Has the policy any rule at all? An empty one means "keep everything". */
export function hasRetention(policy: RetentionPolicy | undefined): policy is RetentionPolicy {
  return policy !== undefined && Object.values(policy).some((v) => v !== undefined);
}

/**
 * Applies a job's retention to one target after a run. The seam to the catalog's
 * `prune(target, policy, {dryRun})` (engine/catalog/prune.ts): until it is wired here, a job that
 * sets a policy gets a clear ERETENTION instead of silently keeping everything.
 */
export async function applyRetention(target: Target, policy: RetentionPolicy | undefined): Promise<RetentionOutcome | undefined> {
  if (!hasRetention(policy)) return undefined;
  throw new LsError('ERETENTION', { target: target.uri, policy: JSON.stringify(policy) });
}
