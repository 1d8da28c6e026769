import { NO_SIDECAR } from '../catalog/stored-digest.js';
import type { RenderedStep } from '../runner/types.js';
import { filesUnder, specialModePaths } from './files-step.js';
import { absentStepData, lackingDataOutcome, mayLackData } from './missing-step-data.js';
import { failedBackupOf, type RestoreComponent } from './plan.js';
import type { StagedBackup } from './stage.js';
import type { EventBody } from '../shapes/events.generated.js';

// The restore plan as shown before asking: what was checked, then each component's hosts and steps.

/**
 * What staging checked, said exactly: a missing sidecar leaves the archive's own digest unchecked
 * (entries are still checked against metadata.json, but a rewritten metadata.json goes unnoticed).
 */
export function describeChecks(sidecarSha256: string | undefined): string {
  const entries = 'every entry matched metadata.json (sha256 and size)';
  if (sidecarSha256) return `Checked: the archive matched its .sha256 sidecar; ${entries}.`;
  // Encrypted or not: age proves only that someone with the public recipient wrote it.
  return `Checked: ${entries}. ${NO_SIDECAR}.`;
}

/** What the plan says besides the components: what staging checked, the signature, --keep-special-modes, another backup's name (made-as.ts). */
export interface PlanDetails {
  checked: string;
  signature: string;
  keepSpecialModes: boolean;
  madeAs?: { backup: string; message: string };
}

export function describeRestorePlan(backup: string, staged: StagedBackup, components: RestoreComponent[], details: PlanDetails): string {
  const { cluster, startedAt } = staged.metadata;
  const lines = [
    `Restore of ${backup} (cluster '${cluster}', taken ${startedAt}; ${details.signature}):`,
    ...(details.madeAs ? [`NOT the backup its name says: ${details.madeAs.message}`] : []),
    details.checked,
  ];
  for (const c of components) {
    if (c.skipReason) {
      lines.push(c.notRestored ? `- ${c.name}: NOT restored (the restore fails for it): ${c.skipReason}` : `- ${c.name}: skipped, ${c.skipReason}`);
      continue;
    }
    const leftOut = (c.leftOut ?? []).map((old) => `    ${old}: left out (--skip-host)`);
    const withoutData = (c.withoutData ?? []).map(
      (host) => `    ${host}: NOTHING restored onto it: ${failedBackupOf(staged.metadata, c.name, host) ?? `no backed-up host of ${c.name} maps to it`}`,
    );
    const recipe = c.recipe!.recipe.metadata;
    lines.push(
      `- ${c.name} with recipe ${recipe.name}@${recipe.version}${c.replaced ? ` (replacing ${c.upgradedFrom}: ${c.replaced.because})` : ''}${describeHostOrder(c)}${describeAfter(c, components)}`,
    );
    if (c.replaced?.diff)
      lines.push(`    the backup's recipe ${c.upgradedFrom} (-) differs from the installed one (+):`, ...c.replaced.diff.split('\n').map((l) => `      ${l}`));
    for (const t of c.tasks) {
      lines.push(`    ${t.sourceHost} -> ${t.hostPlan.host.name} (${t.mapping})`);
      for (const s of t.hostPlan.steps) lines.push(...describeStep(s, c.name, t.sourceHost, staged, details.keepSpecialModes));
    }
    lines.push(...leftOut, ...withoutData);
  }
  return lines.join('\n');
}

function describeHostOrder(c: RestoreComponent): string {
  if (c.together) return ', all hosts in step (every host ends pre before any begins apply, and apply before any begins post)';
  return c.serial ? ', one host at a time' : '';
}

function describeAfter(c: RestoreComponent, components: RestoreComponent[]): string {
  const waits = waitsFor(c, components);
  return waits.length ? `, after ${waits.join(', ')}` : '';
}

/** The components of this restore that this one waits for (restore.after). */
function waitsFor(c: RestoreComponent, components: RestoreComponent[]): string[] {
  return c.after.filter((name) => components.some((o) => o.name === name && !o.skipReason));
}

/** One step of the plan: every line of its command, and what a `files` step does to special modes. */
function describeStep(s: RenderedStep, component: string, sourceHost: string, staged: StagedBackup, keepSpecialModes: boolean): string[] {
  const [first, ...more] = s.kind === 'files' ? [`put back files ${s.files}`] : s.command.split('\n');
  const suffix = `${s.input ? ` < ${s.input}` : ''}${s.become ? ` (as ${s.become.user})` : ''}${s.enabled ? '' : ' — skipped: its `when` is false'}`;
  const lines = [`      [${s.phase}] ${s.name}: ${first}`, ...more.map((l) => `          ${l}`)];
  const notes = stepNotes(s, component, sourceHost, staged, keepSpecialModes);
  lines[lines.length - 1] += suffix + notes.missing.map((n) => ` — ${n}`).join('');
  for (const note of [notes.specialModes, notes.owners]) if (note) lines.push(`          ${note}`);
  return lines;
}

/** What the plan warns about one step: its input or files missing from the backup, setuid/setgid files, files without owners. */
function stepNotes(
  s: RenderedStep,
  component: string,
  sourceHost: string,
  staged: StagedBackup,
  keepSpecialModes: boolean,
): { missing: string[]; specialModes?: string; owners?: string } {
  const missing: string[] = [];
  const absent = absentStepData(s, component, sourceHost, staged);
  if (absent === 'input') missing.push(mayLackData(s, absent) ? 'not in the backup: skipped (optional)' : `NOT in the backup: ${lackingDataOutcome(s)}`);
  if (absent === 'files')
    missing.push(mayLackData(s, absent) ? 'nothing in the backup under it (optional)' : `NOTHING in the backup under it: ${lackingDataOutcome(s)}`);
  if (s.kind !== 'files' || !s.enabled || absent) return { missing };
  const selected = filesUnder(staged, component, sourceHost, s.files!);
  // A zip records no owners: the host's tar makes such files the step's user's (root's).
  const ownerless = selected.filter((e) => e.entry.uid === undefined && !e.entry.uname).length;
  const owners =
    ownerless > 0
      ? `owners NOT in the backup (a zip records none): ${ownerless} file(s) come back owned by the step's user (root when it runs as root), whoever owned them; chown them afterwards, or back up as tar.gz / tar.zst`
      : undefined;
  const special = specialModePaths(selected, component, sourceHost);
  if (special.length === 0) return { missing, owners };
  const which = `${special.slice(0, 5).join(', ')}${special.length > 5 ? `, and ${special.length - 5} more` : ''}`;
  return {
    missing,
    owners,
    specialModes: keepSpecialModes
      ? `setuid/setgid bits restored (--keep-special-modes) on ${special.length} file(s): ${which}`
      : `setuid/setgid bits STRIPPED from ${special.length} file(s) (pass --keep-special-modes to restore them): ${which}`,
  };
}

/**
 * The same plan as the --json contract's events (restore --dry-run --json, docs/json.md): the
 * backup and what was checked, then one event per component with each step as it will run.
 */
export function restorePlanEvents(backup: string, staged: StagedBackup, components: RestoreComponent[], details: PlanDetails): EventBody[] {
  const { cluster, startedAt, backupId } = staged.metadata;
  return [
    {
      type: 'restore.plan',
      backup,
      cluster,
      backupId,
      startedAt,
      signature: details.signature,
      checked: details.checked,
      ...(details.madeAs ? { madeAs: details.madeAs.backup } : {}),
    },
    ...components.map((c): EventBody => {
      const leftOut = c.leftOut?.length ? { leftOut: c.leftOut } : {};
      if (c.skipReason) {
        // notRestored: the human plan's "NOT restored"; a dry run's caller must see it too.
        return {
          type: 'restore.plan.component',
          name: c.name,
          ...leftOut,
          skipReason: c.skipReason,
          ...(c.notRestored ? { notRestored: true } : {}),
          hosts: [],
        };
      }
      const recipe = c.recipe!.recipe.metadata;
      return {
        type: 'restore.plan.component',
        name: c.name,
        ...leftOut,
        ...(c.withoutData ? { withoutData: c.withoutData } : {}),
        recipe: `${recipe.name}@${recipe.version}`,
        ...(c.replaced ? { replacing: `${c.upgradedFrom}: ${c.replaced.because}` } : {}),
        order: c.together ? 'together' : c.serial ? 'serial' : 'parallel',
        after: waitsFor(c, components),
        hosts: c.tasks.map((t) => ({
          from: t.sourceHost,
          to: t.hostPlan.host.name,
          mapping: t.mapping,
          steps: t.hostPlan.steps.map((s) => {
            const notes = stepNotes(s, c.name, t.sourceHost, staged, details.keepSpecialModes);
            const note = [...notes.missing, ...[notes.specialModes, notes.owners].filter((n) => n !== undefined)].join('; ');
            return {
              phase: s.phase,
              name: s.name,
              kind: s.kind,
              ...(s.kind === 'files' ? { files: s.files } : { command: s.command }),
              ...(s.input ? { input: s.input } : {}),
              ...(s.become ? { become: s.become.user } : {}),
              enabled: s.enabled,
              ...(note ? { note } : {}),
            };
          }),
        })),
      };
    }),
  ];
}
