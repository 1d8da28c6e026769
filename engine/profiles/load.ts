import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { invalid, type Problem } from '../errors.js';
import { readCapped } from '../input-limits.js';
import { packageRoot } from '../paths.js';
import { parseAndValidate, positionOf, prevalidatedValue } from '../schema/index.js';
import schema from '../../schemas/profile.schema.json' with { type: 'json' };
import { profileValues } from './apply.js';
import { readManifest } from './manifest.js';
import type { Profile, ProfileValues } from './types.js';

/** schemas/profile.schema.json (precompiled at build time, like the recipe schema). */
export const profileSchema = schema as typeof schema & { $id: string };

/** The profiles shipped with lsbackup (profiles/*.yaml), one per deployment tool. */
export const bundledProfilesDir = path.join(packageRoot, 'profiles');

export async function loadProfiles(dir = bundledProfilesDir): Promise<Profile[]> {
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const profiles: Profile[] = [];
  const problems: Problem[] = [];
  for (const name of files) {
    const file = path.join(dir, name);
    const read = await readCapped(file, 'config');
    const parsed = read.problem ? { problems: [read.problem] } : parseProfile(file, read.bytes);
    problems.push(...parsed.problems);
    if (parsed.value) profiles.push(parsed.value);
  }
  if (problems.length) throw invalid('Profile', problems);
  return profiles;
}

/** One profile from its bytes: its value, or every problem with its position in `file`. */
export function parseProfile(file: string, bytes: Buffer): { value?: Profile; problems: Problem[] } {
  const shipped = prevalidatedValue<Profile>('profile', createHash('sha256').update(bytes).digest('hex'));
  if (shipped) return { value: shipped, problems: [] };
  const { value, source, problems } = parseAndValidate<Profile>(file, bytes.toString('utf8'), profileSchema);
  if (!value) return { problems };
  value.spec.values.forEach((entry, i) => {
    if ((entry.var === undefined) === (entry.secret === undefined)) {
      problems.push({ file, ...positionOf(source, ['spec', 'values', i]), message: `spec.values[${i}] must set exactly one of var and secret` });
    }
  });
  return problems.length ? { problems } : { value, problems };
}

/**
 * The values of the first profile whose manifest is in the build dir (LambdaStack's
 * `<build>/manifest.yml`), or undefined when none is.
 */
export async function buildDirProfileValues(buildDir: string, profiles: Profile[]): Promise<ProfileValues | undefined> {
  for (const profile of profiles) {
    const manifest = path.join(buildDir, profile.spec.manifest);
    if (existsSync(manifest)) return profileValues(profile, manifest, await readManifest(manifest));
  }
  return undefined;
}
