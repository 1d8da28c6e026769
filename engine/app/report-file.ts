/**
 * `apply`/`run --report <file> [--report-format json|junit|html]`: the run report written
 * atomically when the run ends, whatever its outcome (a failed or partial run is when CI needs
 * it most). The HTML form charts the cluster's last backups, read from the target's catalog.
 */
import path from 'node:path';
import { assertWritableFile, writeFileAtomically } from '../atomic-file.js';
import { listBackups, ofCluster } from '../catalog/listing.js';
import { parseIdentityFile } from '../crypto/identity-file.js';
import { LsError, isLsError } from '../errors.js';
import type { ReportHistory } from '../report/html-report.js';
import { DEFAULT_REPORT_HISTORY, renderReport, type ReportFormat } from '../report/report-formats.js';
import type { RunReport } from '../report/run-report.js';
import type { Target } from '../../targets/types.js';

/** The report flags of `apply` and `run`. */
export interface ReportFlags {
  report?: string;
  reportFormat?: ReportFormat;
  /** How many of the cluster's last backups the HTML chart shows. */
  reportHistory?: number;
}

export interface ReportFile {
  /** Writes the finished report; `targets` are the run's, the first holding its copy gives the history. */
  write: (report: RunReport, targets: Target[]) => Promise<void>;
}

/** Checked before the run: a backup must not run only to find its report cannot be written. */
export async function openReportFile(flags: ReportFlags, identityFile: string | undefined): Promise<ReportFile | undefined> {
  if (!flags.report) {
    if (flags.reportFormat) throw new LsError('EUSAGE', { message: `--report-format ${flags.reportFormat} needs --report <file> to write it to` });
    return undefined;
  }
  const file = path.resolve(flags.report);
  await assertWritableFile(file, `--report ${flags.report}`);
  const format = flags.reportFormat ?? 'json';
  return {
    write: async (report, targets) => {
      const history = format === 'html' ? await readHistory(report, targets, flags.reportHistory ?? DEFAULT_REPORT_HISTORY, identityFile) : undefined;
      await writeFileAtomically(file, renderReport(format, report, history), 0o600);
    },
  };
}

/** The cluster's last `count` backups, oldest first, from the target that holds this run's copy (else the first). */
async function readHistory(report: RunReport, targets: Target[], count: number, identityFile: string | undefined): Promise<ReportHistory> {
  const target = targets.find((t) => report.targets.some((r) => r.target === t.uri && r.name)) ?? targets[0];
  const cluster = report.cluster;
  if (!target || !cluster) return { backups: [] };
  try {
    // Encrypted metadata is read with the identity; without it the sizes still show, the status as unknown.
    const identities = identityFile ? await parseIdentityFile(identityFile).catch(() => undefined) : undefined;
    const backups = (await listBackups(target, { identities })).filter((b) => ofCluster(b, cluster)).slice(0, count);
    return {
      target: target.uri,
      // A backup a verify found damaged (catalog/damage.ts) does not restore, whatever its run recorded.
      backups: backups.reverse().map((b) => ({ name: b.name, time: b.time.toISOString(), bytes: b.size, status: b.damaged ? 'damaged' : b.status })),
    };
  } catch (e) {
    if (!isLsError(e)) throw e;
    return { target: target.uri, backups: [], error: e.message };
  }
}
