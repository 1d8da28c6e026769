import { isEncrypted } from '../catalog/objects.js';
import type { RenderedStep } from '../runner/types.js';
import { outputEntryPath } from '../runner/entry-paths.js';
import { filesUnder, specialModePaths } from './files-step.js';
import type { RestoreComponent } from './plan.js';
import type { StagedBackup } from './stage.js';

// The restore plan as shown before asking: what was checked, then each component's hosts and steps.

/**
 * What staging checked, said exactly: a missing sidecar leaves the archive's own digest unchecked
 * (entries are still checked against metadata.json, but a rewritten metadata.json goes unnoticed).
 */
export function describeChecks(backup: string, sidecarSha256: string | undefined): string {
  const entries = 'every entry matched metadata.json (sha256 and size)';
  if (sidecarSha256) return `Checked: the archive matched its .sha256 sidecar; ${entries}.`;
  if (isEncrypted(backup)) return `Checked: age authenticated the encrypted archive; ${entries}.`;
  return `Checked: ${entries}. NOT checked: the archive's own sha256 — its .sha256 sidecar is missing.`;
}

export function describeRestorePlan(
  backup: string,
  staged: StagedBackup,
  components: RestoreComponent[],
  details: { checked: string; signature: string; keepSpecialModes: boolean },
): string {
  const { cluster, startedAt } = staged.metadata;
  const lines = [`Restore of ${backup} (cluster '${cluster}', taken ${startedAt}; ${details.signature}):`, details.checked];
  for (const c of components) {
    if (c.skipReason) {
      lines.push(`- ${c.name}: skipped, ${c.skipReason}`);
      continue;
    }
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
  }
  return lines.join('\n');
}

function describeHostOrder(c: RestoreComponent): string {
  if (c.together) return ', all hosts in step (every host ends pre before any begins apply, and apply before any begins post)';
  return c.serial ? ', one host at a time' : '';
}

/** The components of this restore that this one waits for (restore.after). */
function describeAfter(c: RestoreComponent, components: RestoreComponent[]): string {
  const waits = c.after.filter((name) => components.some((o) => o.name === name && !o.skipReason));
  return waits.length ? `, after ${waits.join(', ')}` : '';
}

/** One step of the plan: every line of its command, and what a `files` step does to special modes. */
function describeStep(s: RenderedStep, component: string, sourceHost: string, staged: StagedBackup, keepSpecialModes: boolean): string[] {
  const [first, ...more] = s.kind === 'files' ? [`put back files ${s.files}`] : s.command.split('\n');
  const suffix = `${s.input ? ` < ${s.input}` : ''}${s.become ? ` (as ${s.become.user})` : ''}${s.enabled ? '' : ' — skipped: its `when` is false'}`;
  const lines = [`      [${s.phase}] ${s.name}: ${first}`, ...more.map((l) => `          ${l}`)];
  lines[lines.length - 1] += suffix;
  if (s.input !== undefined && s.enabled && !staged.entries.get(outputEntryPath(component, sourceHost, s.input))?.file) {
    lines[lines.length - 1] += s.inputOptional ? ' — not in the backup: skipped (optional)' : ' — NOT in the backup: this step will fail';
  }
  if (s.kind === 'files' && s.enabled) {
    const selected = filesUnder(staged, component, sourceHost, s.files!);
    if (selected.length === 0) {
      lines[lines.length - 1] += s.filesOptional ? ' — nothing in the backup under it (optional)' : ' — NOTHING in the backup under it: this step will fail';
    }
    const special = specialModePaths(selected, component, sourceHost);
    if (special.length > 0) {
      const which = `${special.slice(0, 5).join(', ')}${special.length > 5 ? `, and ${special.length - 5} more` : ''}`;
      lines.push(
        keepSpecialModes
          ? `          setuid/setgid bits restored (--keep-special-modes) on ${special.length} file(s): ${which}`
          : `          setuid/setgid bits STRIPPED from ${special.length} file(s) (pass --keep-special-modes to restore them): ${which}`,
      );
    }
  }
  return lines;
}
