/** Human-readable output of the catalog commands (the --json forms print the data as is). */
import type { BackupMetadata } from '../archive/index.js';
import { formatBytes, formatDuration, renderTable } from '../report/format.js';
import type { BackupSummary } from './listing.js';
import { pruneGroup, type PruneResult } from './prune.js';
import type { BackupVerifyReport } from './verify.js';
import { describeSignature } from '../signing/index.js';
import { isWarning } from '../archive/verify.js';

const when = (d: Date) =>
  d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');

export function renderBackupList(backups: BackupSummary[]): string {
  if (backups.length === 0) return 'no lsbackup archives in this target';
  const rows = backups.map((b) => [
    b.name,
    when(b.time),
    formatBytes(b.size),
    b.status,
    b.metadata ? b.components.map((c) => (c.status === 'success' ? c.name : `${c.name}(${c.status})`)).join(',') || '-' : `(${b.metadataNote})`,
    b.job ?? '-',
    b.metadata ? (b.metadata.kind ?? 'full') : '?',
  ]);
  return renderTable(['NAME', 'TIME', 'SIZE', 'STATUS', 'COMPONENTS', 'JOB', 'KIND'], rows);
}

/** full, or incremental with its base and how many files are references to older backups. */
function describeKind(metadata: BackupMetadata): string {
  if (!metadata.base) return 'full';
  const refs = metadata.entries.filter((e) => e.ref !== undefined).length;
  return `incremental on ${metadata.base.archive} (${refs} unchanged file(s) held by older backups of the chain)`;
}

export function renderBackupDetails(summary: BackupSummary, metadata: BackupMetadata): string {
  const entryBytes = metadata.entries.reduce((n, e) => n + e.size, 0);
  const lines = [
    `backup      ${summary.name}`,
    `cluster     ${metadata.cluster}`,
    `job         ${metadata.job ?? '- (apply, or made before jobs were recorded)'}`,
    `status      ${metadata.status}`,
    `kind        ${describeKind(metadata)}`,
    `started     ${metadata.startedAt}`,
    `finished    ${metadata.finishedAt}`,
    `stored      ${formatBytes(summary.size)} (${metadata.archive.format}${summary.encrypted ? ', age-encrypted' : ''})`,
    `entries     ${metadata.entries.length} (${formatBytes(entryBytes)} uncompressed)`,
    `lsbackup    ${metadata.lsbackupVersion}`,
    `inventory   ${metadata.inventory.source} (sha256 ${metadata.inventory.digest.slice(0, 12)}…)`,
    `backup id   ${metadata.backupId}`,
    '',
  ];
  // Components with no hosts in this cluster took no part: one line, not a row each.
  const idle = metadata.components.filter((c) => c.hosts.length === 0 && c.status === 'skipped');
  const rows = metadata.components
    .filter((c) => !idle.includes(c))
    .flatMap((c) => {
      const base = [c.name, `${c.recipe.name}@${c.recipe.version}`, c.componentVersion ?? '-'];
      if (c.hosts.length === 0) return [[...base, '-', c.status, '0', '0 B', formatDuration(c.durationMs), c.error ?? '']];
      return c.hosts.map((h) => {
        const prefix = `${c.name}/${h.name}/`;
        const entries = metadata.entries.filter((e) => e.path.startsWith(prefix));
        return [...base, h.name, h.status, String(entries.length), formatBytes(h.bytes), formatDuration(h.durationMs), h.error ?? h.note ?? ''];
      });
    });
  lines.push(renderTable(['COMPONENT', 'RECIPE', 'VERSION', 'HOST', 'STATUS', 'ENTRIES', 'BYTES', 'TIME', 'NOTE'], rows));
  if (idle.length > 0) lines.push(`not run: ${idle.map((c) => c.name).join(', ')}`);
  return lines.join('\n');
}

export function renderVerify(report: BackupVerifyReport): string {
  const lines = [`${report.name}: ${report.ok ? 'OK' : 'FAILED'}`];
  // Without a sidecar (an archive fetched with `get`) there is nothing it could not match.
  const digest =
    report.expectedSha256 === undefined
      ? 'NOT CHECKED: there is no .sha256 sidecar'
      : `${report.expectedSha256 === report.sha256 ? 'matches' : 'DOES NOT MATCH'} the .sha256 sidecar`;
  lines.push(`  stored digest  ${digest} (${formatBytes(report.storedBytes)})`);
  if (report.entriesChecked !== undefined) lines.push(`  entries        ${report.entriesChecked} checked against metadata.json`);
  if (report.signature) lines.push(`  signature      ${describeSignature(report.signature)}`);
  if (report.chain) {
    const checked = report.chain.length > 0 ? `referenced files checked in ${report.chain.join(', ')}` : 'NOT CHECKED: no base of it was found';
    lines.push(`  chain          ${checked}`);
  }
  for (const p of report.problems)
    lines.push(`  ${p.kind === 'encrypted' ? 'note' : isWarning(p) ? 'warning' : 'problem'}: ${p.message.replaceAll('\n', '\n    ')}`);
  return lines.join('\n');
}

export function renderPrune(result: PruneResult): string {
  const rows = [
    ...result.keep.map((k) => [pruneGroup(k.backup), 'keep', k.backup.name, k.reasons.join(', ')]),
    ...result.remove.map((b) => [
      pruneGroup(b),
      result.dryRun ? 'would delete' : 'deleted',
      b.name,
      b.sidecars.length ? `with ${b.sidecars.length} sidecar(s)` : '',
    ]),
  ].sort((a, b) => a[0]!.localeCompare(b[0]!));
  if (rows.length === 0) return 'no lsbackup archives in this target (in the chosen cluster/job)';
  // The group: cluster/job; '-' when no job is recorded, '?' when the metadata could not be read.
  return renderTable(['GROUP', 'ACTION', 'BACKUP', 'WHY'], rows) + (result.dryRun ? '\n(dry run: nothing was deleted)' : '');
}
