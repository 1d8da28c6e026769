import { prune, pruneGroup } from '../../catalog/prune.js';
import { renderPrune } from '../../catalog/render.js';
import type { RetentionPolicy } from '../../catalog/retention.js';
import { ExitCode } from '../../errors.js';
import { withTargetLock } from '../../lock/index.js';
import { catalogSession, type CatalogOptions } from '../../app/catalog.js';
import type { Redactor } from '../../secrets/types.js';
import { objectProgress, showsResult } from '../../app/reporter.js';
import { printJsonEvents } from '../../report/json-lines.js';

export interface PruneOptions extends CatalogOptions, RetentionPolicy {
  /** A job name, false for --no-job, unset for every job. */
  job?: string | false;
  dryRun?: boolean;
  lockWait?: number;
  /** Only the leftovers of dead runs (incomplete uploads, temp files): no retention rules needed. */
  leftovers?: boolean;
}

/** `lsbackup prune -t <target> --keep-…`: delete what the policy does not keep, per cluster and job, saying why each is kept. */
export async function pruneCommand(options: PruneOptions, redactor: Redactor): Promise<number> {
  const session = await catalogSession(options, redactor);
  const policy: RetentionPolicy = {
    keepWithin: options.keepWithin,
    keepLast: options.keepLast,
    keepHourly: options.keepHourly,
    keepDaily: options.keepDaily,
    keepWeekly: options.keepWeekly,
    keepMonthly: options.keepMonthly,
    keepYearly: options.keepYearly,
  };
  // Reading every backup's metadata sidecar takes a while on a remote target: its bytes show as progress.
  const progress = await objectProgress('prune', options.json, redactor);
  // The target's lock: retention never races a backup that is writing there. A dry run deletes
  // nothing: on a target it may not write (a read-only mount, an auditor's account) it reads without it.
  let outcome;
  try {
    outcome = await withTargetLock(
      session.target,
      { waitMs: (options.lockWait ?? 0) * 1000, onWarning: (m) => process.stderr.write(`warning: ${m}\n`), skipIfUnwritable: options.dryRun },
      async () => ({
        result: options.leftovers
          ? undefined
          : await prune(session.target, policy, {
              ...session,
              cluster: options.cluster,
              job: options.job === false ? null : options.job,
              dryRun: options.dryRun,
              count: progress.counter(),
            }),
        // What dead runs left (incomplete multipart uploads past the target's grace period, temp files).
        leftovers: (await session.target.cleanStale?.({ dryRun: options.dryRun })) ?? [],
      }),
    );
  } finally {
    progress.close();
  }
  const { result, leftovers } = outcome;
  // What a prune did is a success's detail (-q leaves it out); what a --dry-run would do is what was asked for.
  const shown = showsResult(options.dryRun ?? false);
  const leftoverLines = leftovers.map((l) => `${options.dryRun ? 'would remove' : 'removed'} leftover: ${l}\n`).join('');
  if (!result) {
    if (options.json) printJsonEvents([{ type: 'prune.result', dryRun: options.dryRun ?? false, keep: [], remove: [], leftovers }], redactor);
    else if (shown) process.stdout.write(leftoverLines || 'no leftovers of interrupted runs\n');
    return ExitCode.ok;
  }
  if (options.json) {
    printJsonEvents(
      [
        {
          type: 'prune.result',
          dryRun: result.dryRun,
          keep: result.keep.map((k) => ({ name: k.backup.name, group: pruneGroup(k.backup), reasons: k.reasons })),
          remove: result.remove.map((b) => b.name),
          leftovers,
        },
      ],
      redactor,
    );
  } else if (shown) {
    process.stderr.write(leftoverLines);
    process.stdout.write(renderPrune(result) + '\n');
  }
  return ExitCode.ok;
}
