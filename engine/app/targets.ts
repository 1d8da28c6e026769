/**
 * Which targets a command works on: -t URIs (with options from flags, and from the config's
 * entry for the same URI), else the config's `targets`. Credentials are resolved here and join
 * the run's redactor.
 */
import path from 'node:path';
import type { Config, TargetConfig } from '../config/load.js';
import { checkTargetOptionFlags, resolveTargetSecrets, targetOptionsFromFlags, type TargetOptionFlags } from '../config/target-options.js';
import { createSecretSource } from '../secrets/from-config.js';
import type { Redactor } from '../secrets/types.js';
import { LsError } from '../errors.js';
import { openTarget } from '../../targets/registry.js';
import { duplicateTargets, TWICE_IN_ONE_PLACE } from '../../targets/support/location.js';
import type { Target } from '../../targets/types.js';

export interface TargetFlags extends TargetOptionFlags {
  target?: string[];
}

const isUri = (p: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(p);
/** Config URIs are resolved against the config file; -t paths against the working directory. */
const sameTarget = (a: string, b: string) => (isUri(a) || isUri(b) ? a.replace(/\/+$/, '') === b.replace(/\/+$/, '') : path.resolve(a) === path.resolve(b));

/** $LSBACKUP_TARGET: the target used when no -t is given, before the config's list. */
export const TARGET_ENV = 'LSBACKUP_TARGET';

/** The targets to use, as configs (not opened): -t wins over $LSBACKUP_TARGET, which wins over the config's list. */
export function chosenTargets(given: TargetFlags, config: Config): TargetConfig[] {
  const fromEnv = process.env[TARGET_ENV];
  const flags = (given.target?.length ?? 0) === 0 && fromEnv ? { ...given, target: [fromEnv] } : given;
  const uris = (flags.target?.length ?? 0) > 0 ? flags.target! : config.targets.map((t) => t.uri);
  if (uris.length > 0) checkTargetOptionFlags(uris, flags);
  const fromFlags = (flags.target ?? []).map((uri) => {
    const configured = config.targets.find((t) => sameTarget(t.uri, uri));
    return { uri, options: { ...configured?.options, ...targetOptionsFromFlags(uri, flags) } };
  });
  if (fromFlags.length > 0) return fromFlags;
  return config.targets.map((t) => ({ uri: t.uri, options: { ...t.options, ...targetOptionsFromFlags(t.uri, flags) } }));
}

/** Opens every chosen target with its credentials resolved; EUSAGE when there is none. */
export async function openChosenTargets(flags: TargetFlags, config: Config, redactor: Redactor): Promise<Target[]> {
  return openConfiguredTargets(chosenTargets(flags, config), config, redactor);
}

/** Catalog commands work on one target: the one named with -t, else the config's first. */
export async function openOneTarget(flags: TargetFlags, config: Config, redactor: Redactor): Promise<Target> {
  if ((flags.target?.length ?? 0) > 1) throw new LsError('EUSAGE', { message: 'this command works on one target: pass -t once' });
  const [first] = await openConfiguredTargets(chosenTargets(flags, config).slice(0, 1), config, redactor);
  return first!;
}

/** Opens targets as configured (a job's list, say), credentials resolved through the secret sources. */
export async function openConfiguredTargets(chosen: TargetConfig[], config: Config, redactor: Redactor): Promise<Target[]> {
  if (chosen.length === 0) {
    throw new LsError('EUSAGE', { message: 'no target: pass -t <directory or URI>, or set `targets` in lsbackup.config.yaml' });
  }
  // The config's lists were checked as it loaded (file:line:col); this catches `-t a -t a/`.
  const [duplicate] = duplicateTargets(chosen);
  if (duplicate) {
    const [a, b] = [chosen[duplicate.first]!.uri, chosen[duplicate.second]!.uri];
    throw new LsError('EUSAGE', {
      message: `target '${b}' is the same place as target '${a}' (${duplicate.location}): ${TWICE_IN_ONE_PLACE}; give it once`,
    });
  }
  const secrets = createSecretSource(config.secrets?.sources);
  return Promise.all(chosen.map(async (t) => openTarget(t.uri, await resolveTargetSecrets(t.uri, t.options ?? {}, secrets, redactor))));
}
