import type { Inventory } from '../inventory/types.js';
import type { LoadedRecipe } from '../recipes/types.js';
import { parseRecipe } from '../recipes/index.js';
import { formatProblem } from '../errors.js';
import { clusterOfHost, hostsOfGroups, planHost } from '../runner/plan.js';
import { compareVersions } from '../recipes/versions.js';
import type { HostPlan } from '../runner/types.js';
import { recipeEntryPath } from '../runner/entry-paths.js';
import type { StagedBackup } from './stage.js';
import { mapHost } from './host-map.js';
import { lineDiff } from './recipe-diff.js';

export interface RestoreTask {
  sourceHost: string;
  /** How the target host was chosen (same name, position in group, --host-map). */
  mapping: string;
  hostPlan: HostPlan;
}

export interface RestoreComponent {
  name: string;
  recipe?: LoadedRecipe;
  /** Set when the recipe was not the one that made the backup (--allow-recipe-upgrade, or an unsigned backup). */
  upgradedFrom?: string;
  /** Why the installed recipe replaces the carried one, and the diff carried -> installed when they differ. */
  replaced?: { because: string; diff?: string };
  serial: boolean;
  /** restore.together: every host ends a phase before any host begins the next. */
  together: boolean;
  /** Components whose restore ends before this one begins (the recipe's restore.after). */
  after: string[];
  tasks: RestoreTask[];
  /** Backed-up hosts whose data the restore leaves out (--skip-host). */
  leftOut?: string[];
  /**
   * Hosts of a run: all component's groups that no backed-up host maps to (a cluster grown since
   * the backup, a host whose backup failed or was skipped): the restore leaves them as they are.
   */
  withoutData?: string[];
  skipReason?: string;
  /** The skip is a refusal: the only recipe is the carried one of an unsigned backup (see chooseRecipe). */
  untrustedRecipe?: boolean;
  /**
   * The skip leaves backed-up data unrestored for a reason the operator must see in the result,
   * not only in the plan (a backed-up host with no restore host, a recipe that cannot be used):
   * the component fails, so the run is not a success.
   */
  notRestored?: boolean;
}

export interface RestorePlanOptions {
  only?: string[];
  skip?: string[];
  hostMap: Map<string, string>;
  /** Backed-up hosts whose data is left out (--skip-host). */
  skipHosts?: Set<string>;
  /** Installed recipes, used with allowRecipeUpgrade and for backups whose carried recipes are not trusted. */
  installed: LoadedRecipe[];
  allowRecipeUpgrade: boolean;
  /** The carried recipes may run: a trusted key signed metadata.json (which records their digests), or --trust-carried-recipe. */
  carriedTrusted: boolean;
  varOverrides?: Record<string, Record<string, unknown>>;
  /** Values from the build dir's manifest (a profile). */
  profileVars?: Record<string, Record<string, unknown>>;
  secrets: Map<string, string>;
  defaultStepTimeoutSec: number;
}

/**
 * Two backed-up hosts of a component that the default mapping sends to one restore host (one
 * kept its name, the other's position in the group is that host's: node1 was replaced by fresh,
 * the inventory lists node2 first) would have the second's files written over the first's. Only
 * --host-map for both says that is meant.
 */
function sharedRestoreHost(tasks: RestoreTask[]): string | undefined {
  const byHost = new Map<string, RestoreTask[]>();
  for (const t of tasks) byHost.set(t.hostPlan.host.name, [...(byHost.get(t.hostPlan.host.name) ?? []), t]);
  for (const [host, sources] of byHost) {
    if (sources.length < 2 || sources.every((t) => t.mapping.startsWith('--host-map '))) continue;
    const each = sources.map((t) => `${t.sourceHost} (${t.mapping})`).join(' and ');
    const unmapped = sources.find((t) => !t.mapping.startsWith('--host-map ') && t.mapping !== 'same name') ?? sources[0]!;
    return `${each} would both be restored onto ${host}, one over the other: pass --host-map ${unmapped.sourceHost}=<host> (or --host-map for each, when one host is meant to take both)`;
  }
  return undefined;
}

/** What a restore will do: per component, the recipe that made the backup and each host's steps. */
export function planRestore(staged: StagedBackup, inventory: Inventory, options: RestorePlanOptions): RestoreComponent[] {
  // Templates see the components the restore runs as run.components, which planning decides: a
  // first pass assumes every one the backup holds, a second renders with those that remain.
  const planned = planComponents(
    staged,
    inventory,
    options,
    staged.metadata.components.map((c) => c.name),
  );
  const runComponents = planned.filter((c) => !c.skipReason).map((c) => c.name);
  return runComponents.length === planned.length ? planned : planComponents(staged, inventory, options, runComponents);
}

/**
 * Why the backup holds no usable data of a host of the inventory: its backup of the component did
 * not succeed (a collect path missing there, say), with the reason metadata.json records; undefined
 * when the backup has no such host (a host added since).
 */
export function failedBackupOf(metadata: StagedBackup['metadata'], component: string, host: string): string | undefined {
  const record = metadata.components.find((c) => c.name === component)?.hosts.find((h) => h.name === host);
  if (!record || record.status === 'success') return undefined;
  return `its backup ${record.status}${record.error ? ` (${record.error})` : ''}, so the backup holds none of its data`;
}

function planComponents(staged: StagedBackup, inventory: Inventory, options: RestorePlanOptions, runComponents: string[]): RestoreComponent[] {
  const { metadata } = staged;
  return metadata.components.map((component): RestoreComponent => {
    const backedUp = component.hosts.filter((h) => h.status === 'success');
    const leftOut = backedUp.filter((h) => options.skipHosts?.has(h.name)).map((h) => h.name);
    const base = { name: component.name, serial: false, together: false, after: [] as string[], tasks: [] as RestoreTask[], leftOut };
    if (options.only?.length && !options.only.includes(component.name)) return { ...base, skipReason: 'not selected (--only)' };
    if (options.skip?.includes(component.name)) return { ...base, skipReason: 'not selected (--skip)' };
    // Why, as the backup recorded it (its status alone read `skipped, nothing was backed up (skipped)`).
    if (backedUp.length === 0) return { ...base, skipReason: `nothing was backed up: ${component.error ?? component.status}` };
    const withData = backedUp.filter((h) => !leftOut.includes(h.name));
    if (withData.length === 0) return { ...base, skipReason: `every host of it left out (--skip-host ${leftOut.join(', ')})` };

    const chosen = chooseRecipe(component.name, component.recipe, staged, options);
    if (!chosen.recipe) return { ...base, skipReason: chosen.problem, untrustedRecipe: chosen.untrusted, notRestored: true };
    const recipe = chosen.recipe;
    if (!recipe.recipe.spec.restore) return { ...base, recipe, skipReason: 'the recipe has no restore steps' };

    const groups = ([] as string[]).concat(recipe.recipe.spec.hosts.group);
    const tasks: RestoreTask[] = [];
    const unmapped: string[] = [];
    // hosts.eachGroup: each group is a cluster of its own, and a host maps within its own group.
    const clusterOf = clusterOfHost(recipe.recipe);
    const groupsOf = (name: string) => {
      const old = metadata.hosts.find((h) => h.name === name);
      return clusterOf && old ? [clusterOf(old)] : groups;
    };
    for (const source of withData) {
      const mapped = mapHost(source.name, groupsOf(source.name), metadata, inventory, options.hostMap);
      if (!mapped.host) {
        unmapped.push(`${source.name}: ${mapped.how}`);
        continue;
      }
      const hostPlan = planHost(recipe, mapped.host, inventory, {
        operation: 'restore',
        backupId: metadata.backupId,
        cluster: metadata.cluster,
        startedAt: new Date(metadata.startedAt),
        varOverrides: options.varOverrides,
        profileVars: options.profileVars,
        secrets: options.secrets,
        defaultStepTimeoutSec: options.defaultStepTimeoutSec,
        runComponents,
      });
      tasks.push({ sourceHost: source.name, mapping: mapped.how, hostPlan });
    }
    if (unmapped.length > 0) return { ...base, recipe, skipReason: `no restore host for ${unmapped.join('; ')}`, notRestored: true };
    const shared = sharedRestoreHost(tasks);
    if (shared) return { ...base, recipe, skipReason: shared, notRestored: true };
    // run: first restores a cluster through one of its hosts: the others get nothing by design.
    const withoutData =
      recipe.recipe.spec.hosts.run === 'first'
        ? []
        : hostsOfGroups(inventory, groups)
            .map((h) => h.name)
            .filter((name) => !tasks.some((t) => t.hostPlan.host.name === name));
    return {
      ...base,
      ...(withoutData.length ? { withoutData } : {}),
      recipe,
      upgradedFrom: chosen.upgradedFrom,
      replaced: chosen.replaced,
      serial: recipe.recipe.spec.hosts.serial ?? false,
      together: recipe.recipe.spec.restore.together ?? false,
      after: recipe.recipe.spec.restore.after ?? [],
      tasks,
    };
  });
}

/**
 * The recipe that made the backup travels inside it and is what restore runs when a trusted key
 * signed the backup (or --trust-carried-recipe). Otherwise anyone who can write the archive could
 * put commands in it that restore runs as root: the newest installed recipe of the same name
 * runs instead, as with --allow-recipe-upgrade, and the plan shows how the carried one differs.
 */
function chooseRecipe(
  component: string,
  recorded: { name: string; version: string; digest: string },
  staged: StagedBackup,
  options: RestorePlanOptions,
): { recipe?: LoadedRecipe; upgradedFrom?: string; replaced?: RestoreComponent['replaced']; problem?: string; untrusted?: boolean } {
  const entry = recipeEntryPath(recorded.name, recorded.version);
  const bytes = staged.recipes.get(entry);
  if (options.allowRecipeUpgrade || !options.carriedTrusted) {
    const installed = options.installed
      .filter((r) => r.recipe.metadata.name === recorded.name)
      .sort((a, b) => compareVersions(b.recipe.metadata.version, a.recipe.metadata.version))[0];
    if (installed) {
      if (installed.digest === recorded.digest) return { recipe: installed };
      const because = options.allowRecipeUpgrade
        ? '--allow-recipe-upgrade'
        : 'the backup is not signed by a trusted key; --trust-carried-recipe runs the carried one';
      const diff = bytes ? lineDiff(bytes.toString('utf8'), installed.source) : undefined;
      return { recipe: installed, upgradedFrom: `${recorded.name}@${recorded.version}`, replaced: { because, diff } };
    }
    if (!options.carriedTrusted) {
      return {
        untrusted: true,
        problem:
          `the backup is not signed by a trusted key and no recipe '${recorded.name}' is installed: pass --recipes <dir with it>, ` +
          `--trusted-keys <allowed_signers> for a signed backup, or --trust-carried-recipe to run the recipe ${entry} the backup carries`,
      };
    }
  }
  if (!bytes) {
    return { problem: `the backup does not carry recipe ${recorded.name}@${recorded.version}; pass --allow-recipe-upgrade to use the installed one` };
  }
  const parsed = parseRecipe(`${entry} (in the backup)`, bytes);
  if (!parsed.loaded) return { problem: `recipe ${entry} in the backup is invalid: ${parsed.problems.map(formatProblem).join('; ')}` };
  if (parsed.loaded.digest !== recorded.digest) {
    return { problem: `recipe ${entry} does not match the digest recorded for component ${component} (tampered?)` };
  }
  return { recipe: parsed.loaded };
}
