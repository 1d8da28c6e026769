import { writeFileAtomically } from '../atomic-file.js';
import type { RunReport } from '../report/run-report.js';

export type { RunReport, TargetReport } from '../report/run-report.js';

/** Writes the report beside its final name and renames it: a reader never sees half a file. */
export async function writeReportFile(file: string, report: RunReport): Promise<void> {
  await writeFileAtomically(file, JSON.stringify(report, null, 2) + '\n', 0o600);
}
