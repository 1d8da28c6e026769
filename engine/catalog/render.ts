/** Human-readable output of the catalog commands (the --json forms print the data as is). */
import type { BackupMetadata } from '../archive/index.js';
import { formatBytes, formatDuration, renderTable, visibleControls } from '../report/format.js';
import type { BackupSummary } from './listing.js';
import { pruneGroup, type PruneResult } from './prune.js';
import { isNote, renamedWarning, type BackupVerifyReport } from './verify.js';
import { describeSignature } from '../signing/index.js';
import { isWarning } from '../archive/verify.js';
import { NEXT_RUN_AFTER_DAMAGE, type DamageRecord } from './damage.js';
import { NO_SIDECAR } from './stored-digest.js';
import type { MadeAs } from '../archive/made-as.js';

const when = (d: Date) =>
  d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');

/**
 * A backup a verify found unrestorable is not shown as its run's status (damage.ts): DAMAGED when
 * its own archive is, CHAIN DAMAGED when a backup of its chain is.
 */
const listedStatus = (b: BackupSummary) => (b.damaged === undefined ? b.status : b.damaged === b.name ? 'DAMAGED' : 'CHAIN DAMAGED');

export function renderBackupList(backups: BackupSummary[]): string {
  if (backups.length === 0) return 'no lsbackup archives in this target';
  const rows = backups.map((b) => [
    // Listed by the time its metadata records: a copy under another name is marked, the legend says why.
    b.renamed ? `${b.name} ${RENAMED_MARK}` : b.name,
    when(b.time),
    formatBytes(b.size),
    listedStatus(b),
    b.metadata ? b.components.map((c) => (c.status === 'success' ? c.name : `${c.name}(${c.status})`)).join(',') || '-' : `(${b.metadataNote})`,
    // As recorded: names carry it lower-cased with other characters made '-' (eu_west and eu-west read the same).
    b.metadata ? b.metadata.cluster : '?',
    b.job ?? '-',
    b.metadata ? (b.metadata.kind ?? 'full') : '?',
    // What restoring it also needs (docs/incremental.md); the rest of the chain is in the base's row.
    b.metadata ? (b.metadata.base?.archive ?? '-') : '?',
  ]);
  const table = renderTable(['NAME', 'TIME', 'SIZE', 'STATUS', 'COMPONENTS', 'CLUSTER', 'JOB', 'KIND', 'BASE'], rows);
  const damaged = [...new Set(backups.flatMap((b) => (b.damaged === undefined ? [] : [b.damaged])))];
  const legends = [...(backups.some((b) => b.renamed) ? [RENAMED_LEGEND] : []), ...(damaged.length > 0 ? [damagedLegend(damaged)] : [])];
  return [table, ...legends].join('\n');
}

const RENAMED_MARK = '(renamed)';
const RENAMED_LEGEND =
  "(renamed): stored under another name than the run that made it (TIME and CLUSTER are that run's); restoring it restores that backup ('lsbackup show <name>' says which)";

function damagedLegend(damaged: string[]): string {
  return (
    `DAMAGED: a verify found ${damaged.join(', ')} damaged; CHAIN DAMAGED: an incremental whose chain needs one of them. ` +
    `Neither restores, and no backup is based on them ('lsbackup verify <name>' names the problems; one that verifies again is no longer marked)`
  );
}

/** full, or incremental with its base and how many files are references to older backups. */
function describeKind(metadata: BackupMetadata): string {
  if (!metadata.base) return 'full';
  const refs = metadata.entries.filter((e) => e.ref !== undefined).length;
  return `incremental on ${metadata.base.archive} (${refs} unchanged file(s) held by older backups of the chain)`;
}

function describeStatus(summary: BackupSummary, metadata: BackupMetadata): string {
  if (summary.damaged === undefined) return metadata.status;
  const which =
    summary.damaged === summary.name
      ? 'DAMAGED: a verify found this archive damaged'
      : `CHAIN DAMAGED: a verify found ${summary.damaged}, of its chain, damaged`;
  return `${which}; it does not restore (the run recorded ${metadata.status})`;
}

export function renderBackupDetails(summary: BackupSummary, metadata: BackupMetadata, madeAs?: MadeAs): string {
  const entryBytes = metadata.entries.reduce((n, e) => n + e.size, 0);
  const lines = [
    `backup      ${summary.name}`,
    ...(madeAs ? [`renamed     ${renamedWarning(madeAs)}`] : []),
    `cluster     ${metadata.cluster}`,
    `job         ${metadata.job ?? '- (apply, or made before jobs were recorded)'}`,
    `status      ${describeStatus(summary, metadata)}`,
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
  return visibleControls(lines.join('\n'));
}

/** `record`: what the findings changed in the target (damage.ts). */
export function renderVerify(report: BackupVerifyReport, record: DamageRecord = { cleared: [] }): string {
  const lines = [`${report.name}: ${report.ok ? 'OK' : 'FAILED'}`];
  // Without a sidecar (an archive fetched with `get`) there is nothing it could not match.
  const digest = !report.sha256
    ? 'NOT CHECKED: its read broke off before the end'
    : report.expectedSha256 === undefined
      ? report.problems.some((p) => p.kind === 'digest')
        ? 'NOT CHECKED: its .sha256 sidecar is damaged'
        : NO_SIDECAR
      : `${report.expectedSha256 === report.sha256 ? 'matches' : 'DOES NOT MATCH'} the .sha256 sidecar`;
  lines.push(`  stored digest  ${digest} (${formatBytes(report.storedBytes)})`);
  if (report.entriesChecked !== undefined) lines.push(`  entries        ${report.entriesChecked} checked against metadata.json`);
  if (report.signature) lines.push(`  signature      ${describeSignature(report.signature)}`);
  if (report.chain) {
    const checked = report.chain.length > 0 ? `referenced files checked in ${report.chain.join(', ')}` : 'NOT CHECKED: no base of it was found';
    lines.push(`  chain          ${checked}`);
  }
  lines.push(...describeDamage(report, record).map((l) => `  ${l}`));
  // The stored-digest line says a missing sidecar in the note's words (the note is for --json readers).
  const said = (p: BackupVerifyReport['problems'][number]) => isNote(p) && p.message.startsWith(NO_SIDECAR);
  for (const p of report.problems.filter((q) => !said(q)))
    lines.push(`  ${isNote(p) ? 'note' : isWarning(p) ? 'warning' : 'problem'}: ${p.message.replaceAll('\n', '\n    ')}`);
  return lines.join('\n');
}

/**
 * Whether a verify's report says more than "intact, all checked": it failed, something was not
 * checked (no .sha256 sidecar, no base of a chain found), a problem or warning was found, or an
 * earlier damage record could not be cleared. Such a report is printed under -q too.
 */
export function verifyNeedsAttention(report: BackupVerifyReport, record: DamageRecord = { cleared: [] }): boolean {
  return (
    !report.ok ||
    report.expectedSha256 === undefined ||
    report.chain?.length === 0 ||
    report.problems.some((p) => p.kind !== 'encrypted') ||
    record.failed !== undefined
  );
}

/**
 * Which archives a verify found damaged and what follows: the lines of `lsbackup verify` and the
 * message of a job's failed verify. Empty when it found none.
 */
export function describeDamage(report: Pick<BackupVerifyReport, 'name' | 'damaged'>, record: DamageRecord): string[] {
  const damaged = report.damaged ?? [];
  const cleared = record.cleared.length
    ? [`intact         ${record.cleared.join(', ')}: found damaged before, no longer marked so (the earlier read was damaged, not the store)`]
    : [];
  if (damaged.length === 0) return record.failed ? [...cleared, `NOT cleared    the damage recorded before could not be removed (${record.failed})`] : cleared;
  const members = damaged.filter((a) => a !== report.name);
  const of =
    members.length === 0
      ? ''
      : ` (${members.length > 1 ? 'they are' : 'it is'} of its chain: ${report.name} cannot be restored without ${members.length > 1 ? 'them' : 'it'})`;
  return [
    `damaged        ${damaged.join(', ')}${of}`,
    record.failed
      ? `NOT recorded in the target (${record.failed}): make the next run of an incremental job a full one (lsbackup run --full)`
      : `recorded       in the target (${damaged.map((a) => `${a}.damaged`).join(', ')}): ${NEXT_RUN_AFTER_DAMAGE}`,
  ];
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
