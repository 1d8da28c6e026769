import { parse as parseYaml } from 'yaml';
import { invalid, LsError, type Problem } from '../errors.js';
import { ownMap, ownValue } from '../own.js';
import { didYouMean } from '../schema/closest.js';
import type { LoadedRecipe } from './types.js';

export type VarOverrides = Record<string, Record<string, unknown>>;

/** What a var override names: a component (recipe) and one of the vars its recipe declares. */
interface Known {
  components: Map<string, Set<string>>;
}

function knownVars(recipes: readonly LoadedRecipe[]): Known {
  const components = new Map<string, Set<string>>();
  for (const { recipe } of recipes) {
    const names = components.get(recipe.metadata.name) ?? new Set<string>();
    // Any version's vars: the version that runs is chosen per host later.
    for (const key of Object.keys(recipe.spec.vars ?? {})) names.add(key);
    components.set(recipe.metadata.name, names);
  }
  return { components };
}

/** Why `component.name` names nothing, with a did-you-mean; undefined when it names a declared var. */
function unknownReason(known: Known, component: string, name: string): { message: string; hint?: string } | undefined {
  const vars = known.components.get(component);
  if (!vars) {
    return {
      message: `no recipe named '${component}' is loaded`,
      hint: didYouMean(component, known.components.keys()) ?? `loaded recipes: ${[...known.components.keys()].sort().join(', ')}`,
    };
  }
  if (vars.has(name)) return undefined;
  return {
    message: `recipe '${component}' has no var '${name}'`,
    hint: didYouMean(name, vars) ?? (vars.size ? `its vars: ${[...vars].sort().join(', ')}` : 'it declares no vars'),
  };
}

/**
 * Per-component var overrides: the config's `components.vars`, then `--var component.key=value`.
 * An override that names no loaded recipe or no var of it would be silently ignored, so it is an
 * error: a config entry exits 78, a --var 64, each with a did-you-mean. Without `recipes` (not
 * known yet) nothing is checked.
 */
export function varOverrides(
  configVars: VarOverrides | undefined,
  cliVars: readonly string[] | undefined,
  recipes: readonly LoadedRecipe[] | undefined,
  configFile = 'config',
  /** Where the config sets `components.vars.<component>.<name>`, when known. */
  locate?: (component: string, name: string) => { line: number; col: number } | undefined,
): VarOverrides {
  const known = recipes && knownVars(recipes);
  const result = ownMap<Record<string, unknown>>();
  const problems: Problem[] = [];
  for (const [component, values] of Object.entries(configVars ?? {})) {
    for (const name of Object.keys(values ?? {})) {
      const reason = known && unknownReason(known, component, name);
      if (reason)
        problems.push({
          file: configFile,
          ...locate?.(component, name),
          message: `components.vars.${component}.${name}: ${reason.message}`,
          hint: reason.hint,
        });
    }
    result[component] = ownMap(values);
  }
  if (problems.length) throw invalid('Config', problems);
  for (const spec of cliVars ?? []) {
    const m = /^([a-z0-9][a-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(spec);
    if (!m) throw new LsError('EUSAGE', { message: `--var '${spec}' is not of the form component.name=value` });
    const [, component, name, value] = m as unknown as [string, string, string, string];
    const reason = known && unknownReason(known, component, name);
    if (reason) throw new LsError('EUSAGE', { message: `--var ${component}.${name}: ${reason.message}${reason.hint ? ` (${reason.hint})` : ''}` });
    const values = ownValue(result, component) ?? (result[component] = ownMap());
    values[name] = parseScalar(value);
  }
  return result;
}

/** A --var value reads like a YAML scalar, as in a config file: false and 3 are not strings. */
function parseScalar(text: string): unknown {
  // Only booleans and numbers change type; anything else (a '#…' comment to YAML, null, a
  // quoted string) stays exactly the text the user typed.
  try {
    // Silent: a value like '!x' or '*x' is text here, not a YAML tag or alias to warn about on stderr.
    const value: unknown = parseYaml(text, { logLevel: 'silent' });
    return typeof value === 'boolean' || typeof value === 'number' ? value : text;
  } catch {
    return text;
  }
}
