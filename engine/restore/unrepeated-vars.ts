/**
 * A backup made with a recipe var set (`--var redis.redis_port=6380`, or the config's
 * components.vars) and restored without it: the restore steps would use the recipe's default —
 * another port, another data directory — and put the data where the backup did not come from.
 * The backup records which vars its run set (their names: a value may be a secret); restore says,
 * before any host is touched, each one its restore steps use that this restore does not set.
 */
import { ownValue } from '../own.js';
import { parseTemplate, templateReferences } from '../template/index.js';
import { templatedStrings } from '../recipes/template-check.js';
import type { Recipe } from '../recipes/types.js';
import type { BackupMetadata } from '../archive/index.js';
import type { RestoreComponent } from './plan.js';

/** The recipe vars (`vars.<name>`) that `recipe`'s restore steps and its env read. */
export function varsReadByRestore(recipe: Recipe): Set<string> {
  const names = new Set<string>();
  for (const { path, text } of templatedStrings(recipe)) {
    if (!(path[1] === 'restore' || path[1] === 'env')) continue;
    let program;
    try {
      program = parseTemplate(text);
    } catch {
      continue; // validation reports it
    }
    for (const ref of templateReferences(program)) if (ref.kind === 'path' && ref.parts[0] === 'vars' && ref.parts[1]) names.add(ref.parts[1]);
  }
  return names;
}

/** One warning per component that runs: the vars the backup's run set, its restore reads, and this restore leaves to their defaults. */
export function unrepeatedVars(
  metadata: Pick<BackupMetadata, 'components'>,
  components: RestoreComponent[],
  overrides: Record<string, Record<string, unknown>> | undefined,
): { component: string; message: string }[] {
  return components.flatMap((c) => {
    if (c.skipReason || !c.recipe) return [];
    const recipeName = c.recipe.recipe.metadata.name;
    const setAtBackup = metadata.components.find((m) => m.name === c.name)?.varOverrides ?? [];
    const setNow = ownValue(overrides, recipeName) ?? {};
    const read = varsReadByRestore(c.recipe.recipe);
    const missing = setAtBackup.filter((name) => read.has(name) && !Object.hasOwn(setNow, name));
    if (missing.length === 0) return [];
    const vars = missing.map((name) => `${recipeName}.${name}`);
    return [
      {
        component: c.name,
        message: `the backup was made with ${vars.join(', ')} set (--var or the config's components.vars), which its restore steps read and this restore does not set: they use the recipe's default. Pass ${vars.map((v) => `--var ${v}=<value>`).join(' ')} to restore where it was backed up from`,
      },
    ];
  });
}
