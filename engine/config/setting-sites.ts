import { readFileSync } from 'node:fs';
import { parseYaml, positionOf, type DataPath, type YamlSource } from '../schema/index.js';
import type { SourcePosition } from '../errors.js';

/** A setting of a job that a run loads something from, as its key is spelt in the config. */
export type JobSetting =
  'build' | 'recipes' | 'targets' | 'components.only' | 'components.skip' | 'signing.key' | 'encryption.recipients' | 'encryption.identityFile';

/** Settings only the top level has. */
const TOP_LEVEL_ONLY: readonly JobSetting[] = ['signing.key', 'encryption.recipients', 'encryption.identityFile'];

/** Where a job's setting is written: its key, or (`set: false`) where it would go when it is not written at all. */
export type SettingSite = SourcePosition & { set: boolean };

/** undefined: the run took this setting from its command line, not from the config. */
export type SettingSites = (setting: JobSetting) => SettingSite | undefined;

/**
 * Where the config sets each setting a job runs with: the job's own key, else the top level's
 * (engine/jobs/resolve.ts merges them in that order). `source` is the file as already parsed;
 * without it the file is read again, only when a site is asked for (a failed run).
 */
export function jobSettingSites(file: string, job: string, jobsInFile: boolean, source?: YamlSource): (setting: JobSetting) => SettingSite {
  let parsed = source;
  const read = (): YamlSource | undefined => {
    try {
      return (parsed ??= parseYaml(file, readFileSync(file, 'utf8')).source);
    } catch {
      return undefined;
    }
  };
  return (setting) => {
    const src = read();
    if (!src) return { file, set: true };
    const key: DataPath = setting.split('.');
    const candidates: DataPath[] = [...(jobsInFile && !TOP_LEVEL_ONLY.includes(setting) ? [['jobs', job, ...key]] : []), key];
    const found = candidates.find((p) => src.doc.hasIn(p));
    if (found) return { file, ...positionOf(src, found, 'key'), set: true };
    // Not written: the job (or, without jobs, the top of the file) is where it goes.
    return { file, ...positionOf(src, jobsInFile ? ['jobs', job] : [], 'key'), set: false };
  };
}
