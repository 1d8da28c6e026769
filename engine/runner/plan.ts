import type { Host, Inventory } from '../inventory/types.js';
import { ownMap, ownValue } from '../own.js';
import type { BecomeSetting, CollectStep, CommandStep, FilesStep, LoadedRecipe, Recipe, Step } from '../recipes/types.js';
import { templateErrorSite, templatedStrings } from '../recipes/template-check.js';
import type { Become } from '../executors/types.js';
import { renderTemplate, requiredSecretNames, secretEnvName, secretNames, templateHost, templateInventory, type TemplateContext } from '../template/index.js';
import { lifecycle, phaseSteps, type Operation, type PhaseName } from '../recipes/lifecycle.js';
import type { ComponentPlan, HostPlan, RenderedStep, RunPlan } from './types.js';
import { collectCommand } from './collect-command.js';
import { incrementalCollectCommand } from './incremental-collect-command.js';
import { hostDirectoryClashes, outputEntryPath } from './entry-paths.js';
import { LsError } from '../errors.js';
import { recipeFamilies } from '../recipes/versions.js';
import { checkCompressVars, hostTransport, type CompressMode } from './transport.js';
import { RUN_DEFAULTS } from '../config/defaults.js';
import { whenHolds } from '../ansible-boolean.js';

export interface PlanOptions {
  operation: Operation;
  backupId: string;
  cluster: string;
  startedAt: Date;
  only?: string[];
  skip?: string[];
  /** Per-component var overrides from config or `--var component.key=value` (highest precedence). */
  varOverrides?: Record<string, Record<string, unknown>>;
  /** Resolved secret values by name (resolved before planning; templates render synchronously). */
  secrets: Map<string, string>;
  /** Values from the build dir's manifest (a profile): between a recipe's defaults and the inventory. */
  profileVars?: Record<string, Record<string, unknown>>;
  /** Secrets that could not be resolved, with why: the components that use one fail. */
  missingSecrets?: Map<string, string>;
  defaultStepTimeoutSec: number;
  /** Where backup streams are compressed unless a host's `lsbackup_compress` says otherwise (default local). */
  compress?: CompressMode;
  /** The components the run backs up or restores (templates' `run.components`); planRun works it out for a backup. */
  runComponents?: readonly string[];
}

const PROBE_TIMEOUT_SEC = 60;

/** Turns recipes + inventory into what will run where, with every template rendered. Runs nothing. */
export function planRun(recipes: LoadedRecipe[], inventory: Inventory, options: PlanOptions): RunPlan {
  if (options.operation === 'backup') {
    checkCompressVars(inventory);
    checkHostDirectories(inventory);
  }
  const families = recipeFamilies(recipes);
  const runComponents = families.filter((f) => !notRunningReason(f[0]!, inventory, options)).map((f) => f[0]!.recipe.metadata.name);
  const components = families.map((family) => planComponent(family, inventory, { ...options, runComponents }));
  return { backupId: options.backupId, cluster: options.cluster, startedAt: options.startedAt, components };
}

/** Two hosts whose names map to one archive directory (`a/b`, `a_b`) would mix their entries. */
function checkHostDirectories(inventory: Inventory): void {
  const clashes = hostDirectoryClashes(inventory.hosts.keys());
  if (clashes.length === 0) return;
  throw new LsError('EINVALID', {
    what: 'The inventory',
    problems: clashes.map((names) => ({
      file: inventory.source,
      message: `hosts ${names.map((n) => `'${n}'`).join(' and ')} would share one directory in the archive ('/', '\\' and NUL in host names become '_')`,
      hint: 'rename one of them in the inventory',
    })),
  });
}

/**
 * One component: every version of its recipe rendered for every host, newest first. Which
 * version runs is decided per run from the detected component version (`appliesTo`); the
 * newest one's detect and version commands ask.
 */
function planComponent(family: LoadedRecipe[], inventory: Inventory, options: PlanOptions): ComponentPlan {
  const loaded = family[0]!;
  const { recipe } = loaded;
  const base = {
    name: recipe.metadata.name,
    recipe: loaded,
    selection: recipe.spec.hosts.run ?? 'all',
    serial: recipe.spec.hosts.serial ?? false,
  } as const;
  const skipReason = notRunningReason(loaded, inventory, options);
  if (skipReason) return { ...base, hosts: [], variants: [], skipReason };
  const hosts = hostsOfGroups(inventory, ([] as string[]).concat(recipe.spec.hosts.group));
  // Missing secrets render empty: they can only end up in steps that never run (their `when` is
  // false) or in a component that fails for them below and never runs (shown by plan and the summary).
  const renderWith = options.missingSecrets?.size
    ? { ...options, secrets: new Map([...options.secrets, ...[...options.missingSecrets.keys()].map((n): [string, string] => [n, ''])]) }
    : options;
  const variants = family.map((variant) => ({ recipe: variant, hosts: hosts.map((host) => planHost(variant, host, inventory, renderWith)) }));
  const failReason = missingSecretReason(variants, options.missingSecrets, options.operation);
  return { ...base, hosts: variants[0]!.hosts, variants, ...(failReason ? { failReason } : {}) };
}

/**
 * Whether a templated string of a recipe (by its path in the document) can run: detect and
 * version always; a step of this operation when it is enabled (`when`) on at least one host.
 */
function templateRuns(path: readonly (string | number)[], hostPlans: HostPlan[], spec: LoadedRecipe['recipe']['spec'], operation: Operation): boolean {
  const [, section, phase, index] = path;
  if (section !== 'backup' && section !== 'restore' && section !== 'tests') return true;
  if (section !== operation) return false;
  const phases = phaseSteps(spec, operation);
  // Host plans list the steps phase by phase in lifecycle order (planHost).
  let offset = 0;
  for (const p of lifecycle[operation]) {
    if (p.name === phase) break;
    offset += phases[p.name]?.length ?? 0;
  }
  return hostPlans.some((h) => h.steps[offset + Number(index)]?.enabled);
}

/** "needs secret X: not set (…)" when a version of the recipe uses, where it runs, a secret that could not be resolved. */
function missingSecretReason(
  variants: { recipe: LoadedRecipe; hosts: HostPlan[] }[],
  missing: Map<string, string> | undefined,
  operation: Operation,
): string | undefined {
  if (!missing?.size) return undefined;
  const used = new Set(
    variants.flatMap(({ recipe, hosts }) =>
      templatedStrings(recipe.recipe)
        .filter((t) => templateRuns(t.path, hosts, recipe.recipe.spec, operation))
        .flatMap((t) => requiredSecretNames(t.text)),
    ),
  );
  const lacking = [...missing].filter(([name]) => used.has(name));
  if (lacking.length === 0) return undefined;
  return lacking.map(([name, why]) => `needs secret ${name}: ${why.replace(/^Secret '[^']*' could not be resolved: /, '')}`).join('; ');
}

/**
 * Why a recipe will not run at all (not selected, or no hosts in its groups); undefined when
 * it will. Also decides which recipes' secrets must be resolved: a bundled recipe for a
 * component the cluster does not have must not demand its secrets.
 */
export function notRunningReason(loaded: LoadedRecipe, inventory: Inventory, options: Pick<PlanOptions, 'only' | 'skip'>): string | undefined {
  const name = loaded.recipe.metadata.name;
  if (options.only && options.only.length > 0 && !options.only.includes(name)) return 'not selected (--only)';
  // The reason follows the word 'skipped' wherever it is shown: it names why, not 'skipped' again.
  if (options.skip?.includes(name)) return 'not selected (--skip)';
  const groups = ([] as string[]).concat(loaded.recipe.spec.hosts.group);
  if (hostsOfGroups(inventory, groups).length === 0) return `no hosts in inventory group${groups.length > 1 ? 's' : ''} ${groups.join(', ')}`;
  return undefined;
}

/** The recipe (newest version) of each component a run will run: selected, with hosts in its groups. */
export function runningRecipes(recipes: LoadedRecipe[], inventory: Inventory, options: Pick<PlanOptions, 'only' | 'skip'>): LoadedRecipe[] {
  return recipeFamilies(recipes).flatMap(([newest]) => (newest && !notRunningReason(newest, inventory, options) ? [newest] : []));
}

/**
 * The hosts a backup contacts first, before any template is rendered: every host of a component
 * that runs on all its hosts, the first host of one that runs on the first, each once.
 */
export function hostsToContactFirst(recipes: LoadedRecipe[], inventory: Inventory, options: Pick<PlanOptions, 'only' | 'skip'>): Host[] {
  const hosts = new Set<Host>();
  for (const newest of runningRecipes(recipes, inventory, options)) {
    const members = hostsOfGroups(inventory, ([] as string[]).concat(newest.recipe.spec.hosts.group));
    if (newest.recipe.spec.hosts.run !== 'first') {
      for (const host of members) hosts.add(host);
      continue;
    }
    const clusterOf = clusterOfHost(newest.recipe) ?? (() => '');
    const seen = new Set<string>();
    for (const host of members) {
      if (seen.has(clusterOf(host))) continue;
      seen.add(clusterOf(host));
      hosts.add(host);
    }
  }
  return [...hosts];
}

/**
 * With run: first and hosts.eachGroup, the cluster a host belongs to: the first of the recipe's
 * groups it is in (run: first then picks one host in each). Undefined otherwise: one cluster.
 */
export function clusterOfHost(recipe: Recipe): ((host: Pick<Host, 'groups'>) => string) | undefined {
  const { hosts } = recipe.spec;
  if (hosts.run !== 'first' || !hosts.eachGroup) return undefined;
  const groups = ([] as string[]).concat(hosts.group);
  return (host) => groups.find((g) => host.groups.includes(g)) ?? groups[0]!;
}

/** Hosts of the groups in inventory order, each once. */
export function hostsOfGroups(inventory: Inventory, groups: string[]): Host[] {
  const wanted = new Set<string>();
  for (const g of groups) for (const h of inventory.groups.get(g)?.hosts ?? []) wanted.add(h);
  return [...inventory.hosts.values()].filter((h) => wanted.has(h.name));
}

/** Renders a step's templates: `mode` 'shell' for commands, 'raw' for verbatim text (env values, entry names, when). */
type Renderer = (step: string, mode: 'shell' | 'raw') => (template: string, check?: (rendered: string) => void) => string;

export function planHost(loaded: LoadedRecipe, host: Host, inventory: Inventory, options: PlanOptions): HostPlan {
  const { recipe } = loaded;
  const context = templateContext(loaded, host, inventory, options);
  /** `check` refuses a rendered text the step cannot use (an entry name): an error at the template too. */
  const renderer: Renderer = (step, mode) => (template, check) => {
    const where = { recipe: recipe.metadata.name, step, host: host.name };
    try {
      const text = renderTemplate(template, context, where, { shell: mode === 'shell' });
      try {
        check?.(text);
      } catch (e) {
        throw new LsError('ETEMPLATE', { ...where, message: (e as Error).message });
      }
      return text;
    } catch (e) {
      // Only the run's values show these (a var left null for --var to set): point at the recipe's line.
      if (e instanceof LsError && e.code === 'ETEMPLATE' && e.details.at === undefined) {
        const spot = e.details.spot as { line: number; column: number } | undefined;
        const site = templateErrorSite(loaded.file, loaded.source, recipe, template, String(e.details.message), spot);
        // `problems` carries the position as data (the --json error event's file, line, column).
        if (site)
          throw new LsError(
            'ETEMPLATE',
            { ...e.details, at: `${site.file}:${site.line}:${site.col}`, problems: [{ ...site, message: e.message }] },
            { cause: e.cause },
          );
      }
      throw e;
    }
  };
  // Rendered once per host; every command below starts from it (a step's own env wins).
  const recipeEnv = renderEnv(recipe.spec.env, renderer('env', 'raw'));
  const probe = (label: 'detect' | 'version', template: string | undefined): RenderedStep | undefined =>
    template === undefined
      ? undefined
      : {
          phase: 'pre',
          name: label,
          kind: 'command',
          command: renderer(label, 'shell')(template),
          env: { ...recipeEnv, ...secretEnv(options.secrets, template) },
          timeoutMs: PROBE_TIMEOUT_SEC * 1000,
          onError: 'fail',
          become: resolveBecome(host, recipe.spec.become),
          enabled: true,
        };

  const phases = phaseSteps(recipe.spec, options.operation);
  const steps: RenderedStep[] = [];
  for (const phase of lifecycle[options.operation]) {
    const list = phases[phase.name] ?? [];
    list.forEach((step, i) => steps.push(renderStep(step, phase.name, i, loaded, host, renderer, recipeEnv, options)));
  }
  return {
    host,
    detect: probe('detect', recipe.spec.detect),
    version: probe('version', recipe.spec.version),
    steps,
    transport: options.operation === 'backup' ? hostTransport(host, options.compress ?? RUN_DEFAULTS.compress) : 'plain',
  };
}

function renderStep(
  step: Step,
  phase: PhaseName,
  index: number,
  loaded: LoadedRecipe,
  host: Host,
  renderer: Renderer,
  recipeEnv: Record<string, string>,
  options: PlanOptions,
): RenderedStep {
  const label = stepLabel(step, phase, index);
  const shell = renderer(label, 'shell');
  const raw = renderer(label, 'raw');
  const enabled = step.when === undefined ? true : whenHolds(raw(step.when));
  const common = {
    phase,
    name: label,
    env: recipeEnv,
    timeoutMs: (step.timeout ?? options.defaultStepTimeoutSec) * 1000,
    onError: step.onError ?? 'fail',
    become: resolveBecome(host, step.become ?? loaded.recipe.spec.become),
    enabled,
  };
  if ('run' in step) {
    const s = step as CommandStep;
    const command = shell(s.run);
    const env = { ...recipeEnv, ...secretEnv(options.secrets, s.run), ...renderEnv(s.env, raw) };
    const entryName = (template: string | undefined) => (template === undefined ? undefined : raw(template, (name) => outputEntryPath('c', 'h', name)));
    return {
      ...common,
      // Unnamed steps are labelled by what they really run, not by their template.
      name: step.name ?? `${phase}[${index}] ${firstWords(command)}`,
      kind: 'command',
      command,
      env,
      output: entryName(s.output),
      ...(s.output !== undefined && s.contentAddressed ? { contentAddressed: true } : {}),
      input: entryName(s.input),
      ...(s.input !== undefined && s.optional ? { inputOptional: true } : {}),
      ...(s.warnOn ? { warnOn: s.warnOn } : {}),
    };
  }
  if ('path' in step) {
    const s = step as CollectStep;
    const paths = ([] as string[]).concat(s.path).map((p) => shell(p));
    const excludes = (s.exclude ?? []).map((e) => raw(e));
    return {
      ...common,
      name: step.name ?? `${phase}[${index}] collect ${firstWords(paths.join(' '))}`,
      kind: 'collect',
      command: collectCommand(paths, excludes, s.optional ?? false),
      incrementalCommand: incrementalCollectCommand(paths, excludes, s.optional ?? false),
      env: { ...recipeEnv, ...secretEnv(options.secrets, ...([] as string[]).concat(s.path)) },
    };
  }
  const s = step as FilesStep;
  const files = raw(s.files);
  return { ...common, name: step.name ?? `${phase}[${index}] files ${files}`, kind: 'files', command: '', files, filesOptional: s.optional ?? false };
}

function stepLabel(step: Step, phase: PhaseName, index: number): string {
  if (step.name) return step.name;
  if ('run' in step) return `${phase}[${index}] ${firstWords((step as CommandStep).run)}`;
  if ('path' in step) return `${phase}[${index}] collect ${([] as string[]).concat((step as CollectStep).path).join(' ')}`;
  return `${phase}[${index}] files ${(step as FilesStep).files}`;
}

function firstWords(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 48 ? line.slice(0, 45) + '...' : line;
}

/**
 * Become precedence: the step's setting, then the recipe's, then the inventory's
 * `ansible_become` (as Ansible would apply it to every task).
 */
export function resolveBecome(host: Host, setting: BecomeSetting | undefined): Become | undefined {
  const v = host.vars;
  const password =
    typeof v.ansible_become_password === 'string' ? v.ansible_become_password : typeof v.ansible_become_pass === 'string' ? v.ansible_become_pass : undefined;
  const inventoryUser = typeof v.ansible_become_user === 'string' ? v.ansible_become_user : 'root';
  const inventoryBecome = v.ansible_become === true || v.ansible_become === 'true' || v.ansible_become === 'True';
  const chosen = setting ?? (inventoryBecome ? true : false);
  if (chosen === false) return undefined;
  const user = chosen === true ? inventoryUser : chosen;
  return { user, method: 'sudo', ...(password !== undefined ? { password } : {}) };
}

/**
 * Variables a recipe sees: its defaults, then values from the build dir's manifest (a profile),
 * then same-named inventory vars of the host, then overrides (config, --var).
 */
export function recipeVars(
  loaded: LoadedRecipe,
  host: Host,
  overrides: Record<string, unknown> | undefined,
  fromManifest?: Record<string, unknown>,
): Record<string, unknown> {
  const defaults = loaded.recipe.spec.vars ?? {};
  const vars = ownMap(defaults, fromManifest);
  for (const key of Object.keys(defaults)) if (Object.hasOwn(host.vars, key)) vars[key] = host.vars[key];
  return ownMap(vars, overrides);
}

function templateContext(loaded: LoadedRecipe, host: Host, inventory: Inventory, options: PlanOptions): TemplateContext {
  const { recipe } = loaded;
  return {
    host: templateHost(host),
    vars: recipeVars(loaded, host, ownValue(options.varOverrides, recipe.metadata.name), ownValue(options.profileVars, recipe.metadata.name)),
    inventory: templateInventory(inventory),
    backup: {
      id: options.backupId,
      time: options.startedAt.toISOString(),
      timestamp: options.startedAt.getTime(),
    },
    recipe: { name: recipe.metadata.name, version: recipe.metadata.version },
    run: { components: Object.fromEntries((options.runComponents ?? []).map((name) => [name, true])) },
    secrets: options.secrets,
  };
}

/** An `env:` map (the recipe's or a step's) with its values rendered verbatim: they never reach a command line. */
function renderEnv(env: Record<string, string> | undefined, raw: (template: string) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(env ?? {}).map(([name, value]) => [name, raw(value)]));
}

/** The environment that carries the secrets a command template references (see the secret helper). */
function secretEnv(secrets: Map<string, string>, ...templates: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of templates.flatMap((t) => secretNames(t))) {
    const value = secrets.get(name);
    if (value !== undefined) env[secretEnvName(name)] = value;
  }
  return env;
}
