/**
 * What a verify found damaged stays known: a marker object `<archive>.damaged` beside the archive
 * (damageMarkerName). Sidecars are never replaced and the metadata sidecar must repeat the
 * archive's own metadata.json, so the finding cannot go into them; a marker is one more object,
 * written the way every target writes (put, commit, never over another), seen in the listing the
 * catalog reads anyway (no extra read), and deleted with its archive. On every target alike.
 *
 * A backup that has a marker, or needs one of its chain that has, is never an incremental's base
 * (app/incremental-base.ts), is shown damaged by `list` and `show`, and does not count as a
 * successful backup for retention. A later verify that finds it intact removes the marker.
 */
import { damageMarkerName } from '../archive/index.js';
import type { Target } from '../../targets/types.js';
import type { BackupVerifyReport } from './verify.js';

/** What a verify's findings changed in the target: markers written and removed, or why the target could not be told. */
export interface DamageRecord {
  cleared: string[];
  failed?: string;
}

/**
 * After a verify (`lsbackup verify`, a job's `verify: true`): a marker beside each archive it found
 * damaged, and none left on those it read whole and found intact (a damage that was the read's,
 * not the store's, is undone by verifying again). A read that broke off (a download cut) is no
 * finding: it neither marks nor clears. A backup verified by its digest only (encrypted,
 * no identity) keeps its marker: its entries were not checked.
 */
export async function recordVerifyFindings(target: Target, report: BackupVerifyReport, by: string): Promise<DamageRecord> {
  const damaged = report.damaged ?? [];
  const read = [...(report.entriesChecked !== undefined ? [report.name] : []), ...(report.chain ?? [])];
  // A read that broke off found nothing either way: a marker stays, none is written.
  const intact = read.filter((archive) => !damaged.includes(archive) && !report.readBroken?.includes(archive));
  const failed = await recordDamage(target, damaged, { by, checking: report.name });
  if (failed) return { cleared: [], failed };
  return clearDamage(target, intact);
}

/** Who found the damage, and while checking which backup (an incremental finds its base's). */
export interface DamageFinding {
  /** `lsbackup verify`, or `job <name>'s verify`. */
  by: string;
  /** The backup whose verify found it. */
  checking: string;
}

/**
 * Leaves a marker beside each of `archives` (found damaged) that has none yet. Resolves to why it
 * could not, when it could not (a target with read-only credentials): the caller says so, the
 * verify's own result stands. The marker holds when and by what, not the problems: those can
 * name hosts and files, which an encrypted backup keeps out of the plain objects.
 */
async function recordDamage(target: Target, archives: string[], finding: DamageFinding, now = new Date()): Promise<string | undefined> {
  try {
    for (const archive of archives) {
      const marker = damageMarkerName(archive);
      if (await target.stat(marker)) continue;
      const upload = await target.put(marker);
      const record = JSON.stringify({ damaged: archive, foundAt: now.toISOString(), foundBy: finding.by, checking: finding.checking }) + '\n';
      // Every byte taken before commit (S3 and Azure Files refuse an upload whose stream has not finished).
      await new Promise<void>((done, fail) => {
        upload.stream.once('error', fail);
        upload.stream.end(record, done);
      }).catch(async (e: unknown) => {
        await upload.abort();
        throw e;
      });
      await upload.commit();
    }
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Removes the markers of `archives` (a verify found them intact). */
async function clearDamage(target: Target, archives: string[]): Promise<DamageRecord> {
  const cleared: string[] = [];
  try {
    for (const archive of archives) {
      const marker = damageMarkerName(archive);
      if (!(await target.stat(marker))) continue;
      await target.delete(marker);
      cleared.push(archive);
    }
    return { cleared };
  } catch (e) {
    return { cleared, failed: (e as Error).message };
  }
}

/** The first of `chain` (a backup, its base, … down to the full) that has a damage marker among `objects`' names. */
export function firstDamaged(chain: readonly string[], objects: ReadonlySet<string>): string | undefined {
  return chain.find((archive) => objects.has(damageMarkerName(archive)));
}

/** What the next run of an incremental job does once `archive` is known damaged: for the messages that report it. */
export const NEXT_RUN_AFTER_DAMAGE = 'no later backup is based on it or on a backup that needs it: the next incremental run makes a full backup';
