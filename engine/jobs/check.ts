import type { Config } from '../config/load.js';
import { formatProblem, type Problem } from '../errors.js';
import type { LoadedRecipe } from '../recipes/types.js';
import type { YamlSource } from '../schema/index.js';
import type { Redactor } from '../secrets/types.js';
import { loadBackupSetup } from '../app/backup.js';
import { setupProblems } from '../app/setup-failures.js';
import { backupSettingsFromJob } from './backup-settings.js';
import { effectiveJobs } from './resolve.js';

/**
 * What `run` checks before it does any work, for every job of a config: the set-up a run loads
 * (loadBackupSetup: build, recipes, selection, vars, targets, signing key, recipients), its
 * failures at the config keys they come from. `config validate` reports them; `schedule` refuses
 * a config that has any, at start and on a reload (the jobs would fail at every tick).
 * Secrets the set-up resolves (target credentials) join `redactor`.
 */
export async function checkJobs(
  config: Config,
  redactor: Redactor,
  source?: YamlSource,
): Promise<{ problems: Problem[]; recipes: Map<string, LoadedRecipe[]> }> {
  const problems = new Map<string, Problem>();
  const recipes = new Map<string, LoadedRecipe[]>();
  for (const job of effectiveJobs(config)) {
    const settings = backupSettingsFromJob(config, job, { configSource: source });
    const { setup, failures } = await loadBackupSetup(settings, redactor);
    // A top-level setting every job inherits is one problem, not one per job.
    for (const p of settings.sites ? setupProblems(failures, settings.sites) : []) problems.set(formatProblem(p), p);
    if (setup) recipes.set(job.name, setup.recipes);
  }
  // In the order of the file, the config's first (a recipe's own problems point into the recipe).
  const order = (p: Problem) => [p.file === config.file ? 0 : 1, p.line ?? 0, p.col ?? 0];
  const sorted = [...problems.values()].sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
  });
  return { problems: sorted, recipes };
}
