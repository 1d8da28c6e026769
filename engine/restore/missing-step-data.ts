import type { RenderedStep } from '../runner/types.js';
import { outputEntryPath } from '../runner/entry-paths.js';
import { filesUnder } from './files-step.js';
import type { LoadedRecipe } from '../recipes/types.js';
import type { RestoreComponent } from './plan.js';
import type { StagedBackup, StagedEntry } from './stage.js';

// A restore step whose data the backup does not hold fails when it is reached, after the steps
// before it changed the host. The plan says so; the restore is refused before any host is touched.

/** What of its data an enabled step lacks in the backup: its `input` entry, or every file under its `files:` path. */
export function absentStepData(s: RenderedStep, component: string, sourceHost: string, staged: StagedBackup): 'input' | 'files' | undefined {
  if (!s.enabled) return undefined;
  if (s.input !== undefined && !holdsBody(staged.entries.get(outputEntryPath(component, sourceHost, s.input)))) return 'input';
  if (s.kind === 'files' && filesUnder(staged, component, sourceHost, s.files!).length === 0) return 'files';
  return undefined;
}

/** A body a step can read: staged, or (stream mode, nothing staged) a complete file the second pass brings. */
function holdsBody(e: StagedEntry | undefined): boolean {
  return Boolean(e && (e.file || (e.entry.type === 'file' && !e.incomplete)));
}

/** Whether a step may go without that data (`optional: true`). */
export function mayLackData(s: RenderedStep, absent: 'input' | 'files'): boolean {
  return absent === 'input' ? Boolean(s.inputOptional) : Boolean(s.filesOptional);
}

/** What the plan says of a step lacking data it needs: it fails, and the restore goes on only after an `onError: continue` step. */
export function lackingDataOutcome(s: RenderedStep): string {
  return s.onError === 'continue' ? 'this step will fail and the restore goes on (onError: continue)' : 'this step would fail, so the restore is refused';
}

/** One line per step of the restored components that would fail for want of its data; empty when none would. */
export function stepsLackingData(components: RestoreComponent[], staged: StagedBackup): string[] {
  const lines: string[] = [];
  for (const c of components) {
    if (c.skipReason) continue;
    for (const t of c.tasks) {
      for (const s of t.hostPlan.steps) {
        const absent = absentStepData(s, c.name, t.sourceHost, staged);
        if (!absent || mayLackData(s, absent) || s.onError === 'continue') continue;
        const what = absent === 'input' ? `reads '${s.input}', which the backup does not hold` : `puts back '${s.files}', under which the backup holds nothing`;
        lines.push(`${c.name} @ ${t.hostPlan.host.name}: step '${s.name}' ${what}`);
      }
    }
  }
  return lines;
}

/** The refusal's message: the steps, why the backup meets this, and what to do. */
export function describeLackingData(lines: string[], components: RestoreComponent[], installed: LoadedRecipe[]): string {
  const names = [...new Set(lines.map((l) => l.slice(0, l.indexOf(' @ '))))];
  const hints = components.filter((c) => names.includes(c.name)).map((c) => recipeHint(c, installed));
  return [
    'a step would fail for want of its data, after the steps before it had changed the host:',
    ...lines.map((l) => `  ${l}`),
    ...new Set(hints),
    `Or leave ${names.length > 1 ? 'these components' : 'the component'} out (--skip ${names.join(',')}), or point the step at data the backup holds (--var).`,
  ].join('\n');
}

/** Which recipe to run instead: the one that made the backup, the installed one, or a corrected one. */
function recipeHint(c: RestoreComponent, installed: LoadedRecipe[]): string {
  if (c.upgradedFrom) {
    const instead = c.replaced?.because === '--allow-recipe-upgrade' ? 'without --allow-recipe-upgrade' : 'with --trust-carried-recipe';
    return `${c.name}: the installed recipe runs in place of ${c.upgradedFrom}, which made the backup; ${instead} that one runs.`;
  }
  const other = installed.some((r) => r.recipe.metadata.name === c.name && r.digest !== c.recipe?.digest);
  if (other) {
    return (
      "A recipe written before restore steps could say 'optional: true' (carried in a backup of an older lsbackup) took nothing there as fine: " +
      'pass --allow-recipe-upgrade to run the installed recipe instead.'
    );
  }
  return (
    `${c.name}: the recipe that made the backup cannot restore it: correct its restore steps (one whose data a backup may lack says 'optional: true'), ` +
    'then run the corrected recipe with --allow-recipe-upgrade --recipes <its dir>.'
  );
}
