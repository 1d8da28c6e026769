import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunReport } from '../report/run-report.js';

export type { RunReport, TargetReport } from '../report/run-report.js';

/** Writes the report beside its final name and renames it: a reader never sees half a file. */
export async function writeReportFile(file: string, report: RunReport): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify(report, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}
