import type { Config } from '../config/load.js';
import { isLsError, LsError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import type { ProfileValues } from '../profiles/index.js';
import { templatedStrings } from '../recipes/index.js';
import type { LoadedRecipe } from '../recipes/types.js';
import { notRunningReason } from '../runner/plan.js';
import type { Reporter } from '../report/events.js';
import { createSecretSource } from '../secrets/from-config.js';
import { MIN_SECRET_LENGTH } from '../secrets/redactor.js';
import type { Redactor, ResolvedSecrets } from '../secrets/types.js';
import { requiredSecretNames, secretNames } from '../template/index.js';

/**
 * Resolves every secret the recipes reference (before planning: templates render synchronously),
 * each value joining the run's redactor. One that cannot be resolved is `missing` with the
 * reason: only the components using it fail.
 */
export async function resolveRecipeSecrets(
  recipes: LoadedRecipe[],
  config: Config,
  redactor: Redactor,
  fromManifest?: Map<string, string>,
): Promise<ResolvedSecrets> {
  const names = new Set<string>();
  const required = new Set<string>();
  for (const r of recipes) for (const t of templatedStrings(r.recipe)) for (const n of secretNames(t.text)) names.add(n);
  for (const r of recipes) for (const t of templatedStrings(r.recipe)) for (const n of requiredSecretNames(t.text)) required.add(n);
  const source = createSecretSource(config.secrets?.sources);
  const resolved: ResolvedSecrets = { values: new Map(), missing: new Map() };
  for (const name of names) {
    try {
      const value = await source.resolve(name);
      redactor.add(value, `secret '${name}'`);
      resolved.values.set(name, value);
    } catch (e) {
      if (!isLsError(e) || e.code !== 'ESECRET') throw e;
      // The build dir's manifest (through its profile) is the last source: configured ones win.
      const value = fromManifest?.get(name);
      if (value !== undefined) {
        redactor.add(value, `secret '${name}'`);
        resolved.values.set(name, value);
      } else if (required.has(name)) resolved.missing.set(name, e.message);
      // Used only with optional=true: renders empty, fails nothing.
    }
  }
  return resolved;
}

/**
 * A warning, once per run, for each secret the run's redactor was given that is too short to be
 * masked (masking a 1-3 character string would mangle all output): recipe secrets, target and
 * notification credentials, inventory passwords alike, each named by its setting, never shown,
 * so the operator can lengthen it.
 */
export function warnUnmaskableSecrets(redactor: Redactor, reporter: Reporter): void {
  for (const message of unmaskableSecretWarnings(redactor)) reporter.emit({ type: 'warning', message });
}

/** The warnings of warnUnmaskableSecrets, for a command without a run's reporter (list, verify, get, prune). */
export function unmaskableSecretWarnings(redactor: Redactor): string[] {
  return redactor
    .takeUnmaskable()
    .map(
      (setting) =>
        `${setting} (or a line of it) is shorter than ${MIN_SECRET_LENGTH} characters, too short to be masked: wherever it is printed, it shows in clear; use a longer value`,
    );
}

/** All secrets or the first one missing, for callers that need every one (restore). */
export function allSecrets(resolved: ResolvedSecrets): Map<string, string> {
  for (const [name, message] of resolved.missing)
    throw new LsError('ESECRET', { name, message: message.replace(/^Secret '[^']*' could not be resolved: /, '') });
  return resolved.values;
}

/** Secrets of the recipes that will run only: a cluster without Grafana needs no Grafana password. */
export function resolveRunningRecipeSecrets(
  recipes: LoadedRecipe[],
  inventory: Inventory,
  selection: { only?: string[]; skip?: string[] },
  config: Config,
  redactor: Redactor,
  profile?: ProfileValues,
): Promise<ResolvedSecrets> {
  return resolveRecipeSecrets(
    recipes.filter((r) => !notRunningReason(r, inventory, selection)),
    config,
    redactor,
    profile?.secrets,
  );
}
