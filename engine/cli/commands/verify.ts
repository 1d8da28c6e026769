import { verifyBackup } from '../../catalog/verify.js';
import { renderVerify, verifyNeedsAttention } from '../../catalog/render.js';
import { ExitCode } from '../../errors.js';
import { loadTrustedKeys } from '../../signing/index.js';
import { backupSession, type CatalogOptions } from '../../app/catalog.js';
import { loadRunConfig } from '../../app/config.js';
import type { Redactor } from '../../secrets/types.js';
import { objectProgress, showsResult } from '../../app/reporter.js';
import { printJsonEvents } from '../../report/json-lines.js';
import { recordVerifyFindings } from '../../catalog/damage.js';

export interface VerifyOptions extends CatalogOptions {
  /** allowed_signers / .pub files (default: config signing.trusted). */
  trustedKeys?: string[];
}

/** `lsbackup verify <backup>`: exit 0 when intact, 1 naming every bad entry (or a bad signature) otherwise. */
export async function verifyCommand(spec: string, options: VerifyOptions, redactor: Redactor): Promise<number> {
  const config = await loadRunConfig(options);
  const trusted = await loadTrustedKeys(options.trustedKeys ?? config.signing?.trusted ?? []);
  const session = await backupSession(spec, options, redactor);
  const progress = await objectProgress('verify', options.json, redactor, (await session.target.stat(session.name))?.size);
  let report;
  try {
    report = await verifyBackup(session.target, session.name, { ...session, trusted, count: progress.counter(), countEntry: progress.entryCounter() });
  } finally {
    progress.close();
  }
  // Outside the target's lock: one small object, written never over another (a prune meanwhile leaves it stray, and cleans it up).
  const record = await recordVerifyFindings(session.target, report, 'lsbackup verify');
  if (options.json) printJsonEvents([{ type: 'verify.result', ...report, damageRecord: record }], redactor);
  else if (showsResult(verifyNeedsAttention(report, record))) process.stdout.write(renderVerify(report, record) + '\n');
  return report.ok ? ExitCode.ok : ExitCode.failed;
}
