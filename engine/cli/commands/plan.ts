import { randomUUID } from 'node:crypto';
import type { ProfileValues } from '../../profiles/index.js';
import path from 'node:path';
import { findConfigFile } from '../../config/load.js';
import { bundledRecipesDir } from '../../paths.js';
import { watchAndRerun } from '../watch.js';
import { planRun } from '../../runner/plan.js';
import type { RunPlan } from '../../runner/types.js';
import type { Redactor } from '../../secrets/types.js';
import { RUN_DEFAULTS } from '../../config/defaults.js';
import type { CompressMode } from '../../runner/transport.js';
import { REMOTE_ZSTD_LEVEL } from '../../runner/remote-compress-command.js';
import { loadRunConfig } from '../../app/config.js';
import { clusterName, keyRemapMessages, loadRunInventory, loadRunProfile, type ClusterFlags } from '../../app/inventory.js';
import { loadRunRecipes, runVarOverrides } from '../../app/recipes.js';
import { resolveRunningRecipeSecrets } from '../../app/secrets.js';
import { refuseUnknownRecipes } from '../../app/recipes.js';
import { printJsonEvents } from '../../report/json-lines.js';
import type { EventBody } from '../../shapes/events.generated.js';

export interface PlanCommandOptions extends ClusterFlags {
  config?: string;
  json?: boolean;
  only?: string[];
  skip?: string[];
  var?: string[];
  stepTimeout?: number;
  restore?: boolean;
  watch?: boolean;
  compress?: CompressMode;
}

/** `lsbackup plan`: what would run where, every command rendered, secrets masked. Runs nothing. */
export async function planCommand(recipePaths: string[], options: PlanCommandOptions, redactor: Redactor): Promise<number> {
  if (options.watch) {
    return watchAndRerun({ paths: await planInputs(recipePaths, options), run: () => planOnce(recipePaths, options, redactor), json: options.json, redactor });
  }
  return planOnce(recipePaths, options, redactor);
}

/** What a plan is made of: recipes, the config file and the inventory (best effort: a broken config is still watched). */
async function planInputs(recipePaths: string[], options: PlanCommandOptions): Promise<string[]> {
  const configFile = findConfigFile(options.config);
  const config = await loadRunConfig(options).catch(() => undefined);
  const recipes = recipePaths.length > 0 ? recipePaths.map((p) => path.resolve(p)) : (config?.recipes ?? [bundledRecipesDir]);
  const build = options.build ?? config?.build;
  return [...recipes, ...(configFile ? [configFile] : []), ...(build ? [path.resolve(build)] : [])];
}

async function planOnce(recipePaths: string[], options: PlanCommandOptions, redactor: Redactor): Promise<number> {
  const config = await loadRunConfig(options);
  const recipes = await loadRunRecipes(recipePaths, config);
  const inventory = await loadRunInventory(options, config, redactor);
  const selection = { only: options.only ?? config.components?.only, skip: options.skip ?? config.components?.skip };
  refuseUnknownRecipes(recipes, selection);
  const profile = await loadRunProfile(inventory);
  const secrets = await resolveRunningRecipeSecrets(recipes, inventory, selection, config, redactor, profile);
  const plan = planRun(recipes, inventory, {
    operation: options.restore ? 'restore' : 'backup',
    backupId: randomUUID(),
    cluster: clusterName(options, config, inventory),
    startedAt: new Date(),
    only: selection.only,
    skip: selection.skip,
    varOverrides: runVarOverrides(config, options.var, recipes),
    secrets: secrets.values,
    missingSecrets: secrets.missing,
    profileVars: profile?.vars,
    defaultStepTimeoutSec: options.stepTimeout ?? config.stepTimeout ?? RUN_DEFAULTS.stepTimeout,
    compress: options.compress ?? config.compress ?? RUN_DEFAULTS.compress,
  });
  if (options.json) {
    printJsonEvents(planEvents(plan, options.restore ?? false, profile), redactor);
    return 0;
  }
  const text = [profile ? profileAsText(profile) : '', ...keyRemapMessages(inventory), planAsText(plan)].filter(Boolean).join('\n');
  process.stdout.write(redactor.redact(text) + '\n');
  return 0;
}

/** The plan as the contract's events: what it is of, the manifest's values, then one event per component. */
function planEvents(plan: RunPlan, restore: boolean, profile: ProfileValues | undefined): EventBody[] {
  return [
    { type: 'plan.start', operation: restore ? 'restore' : 'backup', cluster: plan.cluster },
    ...(profile ? [{ type: 'plan.profile' as const, ...profileAsJson(profile) }] : []),
    ...plan.components.map((c) => ({
      type: 'plan.component' as const,
      name: c.name,
      recipe: { name: c.recipe.recipe.metadata.name, version: c.recipe.recipe.metadata.version, file: c.recipe.file },
      selection: c.selection,
      serial: c.serial,
      ...(c.skipReason ? { skipReason: c.skipReason } : {}),
      ...(c.failReason ? { failReason: c.failReason } : {}),
      hosts: c.hosts.map((h) => ({
        host: h.host.name,
        address: h.host.connection.address,
        connection: h.host.connection.kind,
        ...(restore ? {} : { transport: h.transport }),
        detect: h.detect?.command,
        version: h.version?.command,
        steps: h.steps.map((s) => ({
          phase: s.phase,
          name: s.name,
          kind: s.kind,
          command: s.command,
          ...(s.output ? { output: s.output } : {}),
          ...(s.input ? { input: s.input } : {}),
          ...(s.files ? { files: s.files } : {}),
          ...(s.become ? { become: s.become.user } : {}),
          ...(Object.keys(s.env).length ? { env: Object.keys(s.env) } : {}),
          timeoutSec: s.timeoutMs / 1000,
          onError: s.onError,
          enabled: s.enabled,
        })),
      })),
    })),
  ];
}

/** What the build dir's manifest supplies: vars with their values, secrets by name only. */
function profileAsJson(profile: ProfileValues) {
  const vars = Object.entries(profile.vars).flatMap(([component, values]) =>
    Object.entries(values).map(([name, value]) => ({ var: `${component}.${name}`, value })),
  );
  return { name: profile.profile, manifest: profile.manifest, vars, secrets: [...profile.secrets.keys()] };
}

function profileAsText(profile: ProfileValues): string {
  const { vars, secrets } = profileAsJson(profile);
  const lines = [`Values from ${profile.manifest} (profile ${profile.profile}; inventory vars, config and --var override them):`];
  for (const v of vars) lines.push(`  ${v.var} = ${String(v.value)}`);
  for (const s of secrets) lines.push(`  secret ${s} (used when no secret source has it)`);
  return lines.join('\n');
}

function planAsText(plan: RunPlan): string {
  const out: string[] = [`Plan for cluster '${plan.cluster}' (nothing is executed):`];
  for (const c of plan.components) {
    const head = `\n${c.name} (recipe ${c.recipe.recipe.metadata.version}, ${c.recipe.file})`;
    if (c.skipReason) {
      out.push(`${head}: skipped, ${c.skipReason}`);
      continue;
    }
    if (c.failReason) {
      out.push(`${head}: FAILS on ${c.hosts.map((h) => h.host.name).join(', ')}: ${c.failReason}`);
      continue;
    }
    const first = c.recipe.recipe.spec.hosts.eachGroup ? 'the first host of each group where detect passes' : 'the first host where detect passes';
    out.push(`${head}: runs on ${c.selection === 'first' ? first : `all hosts${c.serial ? ', one at a time' : ''}`}`);
    for (const h of c.hosts) {
      const reach = h.host.connection.kind === 'local' ? 'local' : `ssh ${h.host.connection.user ?? ''}@${h.host.connection.address}:${h.host.connection.port}`;
      out.push(`  host ${h.host.name} (${reach}${h.transport === 'zstd' ? `, streams compressed on the host: zstd -${REMOTE_ZSTD_LEVEL}` : ''})`);
      if (h.detect) out.push(`    detect: ${h.detect.command}`);
      if (h.version) out.push(`    version: ${h.version.command}`);
      for (const s of h.steps) {
        const flags = [
          s.become ? `as ${s.become.user}` : '',
          s.output ? `-> ${s.output}` : '',
          s.input ? `<- ${s.input}` : '',
          s.enabled ? '' : 'disabled (when)',
        ]
          .filter(Boolean)
          .join(', ');
        const body = s.kind === 'files' ? `restore files ${s.files}` : s.command.split('\n').join('\n        ');
        out.push(`    [${s.phase}] ${s.name}${flags ? ` (${flags})` : ''}\n        ${body}`);
      }
    }
  }
  return out.join('\n');
}
