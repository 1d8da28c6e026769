/**
 * What a backup's set-up (engine/app/backup.ts) could not load, said the way its settings were
 * given: from a config job, every failure at once at the key it comes from (file:line:col) with
 * the fix, exit 78; from the command line (`apply`, or `run --sign-key`), the first failure as
 * its own error (it names the flag).
 */
import { formatProblem, invalid, type LsError, type Problem } from '../errors.js';
import type { JobSetting, SettingSite, SettingSites } from '../config/setting-sites.js';

export interface SetupFailure {
  /** The setting it was loaded from; none when the error already points into the config (a var override). */
  setting?: JobSetting;
  error: LsError;
}

/** The fix, per setting: when it is written but unusable, and when it is not written at all. */
const FIXES: Record<JobSetting, { set?: string; unset: string }> = {
  build: {
    set: "set build to a build directory that holds an 'inventory' file or directory, or to the inventory file itself",
    unset: "set build (top level or in the job) to the cluster's build directory or inventory file",
  },
  recipes: { set: 'list recipe directories or files that exist, or leave recipes out for the bundled ones', unset: '' },
  targets: { unset: 'set targets (top level or in the job) to a directory or URI, e.g. targets: [/var/backups/lsbackup]' },
  'components.only': { unset: '' },
  'components.skip': { unset: '' },
  'signing.key': { set: 'set signing.key to an SSH private key file without a passphrase, or leave it out to not sign', unset: '' },
  'encryption.recipients': { set: "each recipient is an age public key, age1... as 'age-keygen -y' prints it", unset: '' },
  'encryption.identityFile': { set: 'set encryption.identityFile to an age identity file (AGE-SECRET-KEY-1..., as age-keygen writes it)', unset: '' },
};

/** The error thrown for a set-up that failed. */
export function setupError(failures: SetupFailure[], sites: SettingSites | undefined): LsError {
  // A flag's error first, as it was: the config's problems would not be what the operator typed.
  const fromFlags = failures.find((f) => (f.setting ? !sites?.(f.setting) : !f.error.details.problems));
  if (fromFlags || !sites) return (fromFlags ?? failures[0]!).error;
  return invalid('Config', setupProblems(failures, sites));
}

/** Every failure as problems at the config keys they come from. */
export function setupProblems(failures: SetupFailure[], sites: SettingSites): Problem[] {
  return failures.flatMap(({ setting, error }) => {
    const site = setting && sites(setting);
    const own = (error.details.problems as Problem[] | undefined) ?? [];
    if (!site) return own;
    // A problem inside a file the setting names (a recipe's line) is reported where it is.
    if (own.length > 0) return own.map((p) => (p.line !== undefined ? p : atSetting(site, setting!, formatProblem(p))));
    return [atSetting(site, setting!, reasonOf(error))];
  });
}

function atSetting(site: SettingSite, setting: JobSetting, reason: string): Problem {
  const { set, ...where } = site;
  const message = !set ? `${setting} is not set` : reason.startsWith(setting) ? reason : `${setting}: ${reason}`;
  const hint = (set ? FIXES[setting].set : FIXES[setting].unset) || undefined;
  return { ...where, message, ...(hint ? { hint } : {}) };
}

/** The catalogue's message tells a command-line user which flag to pass; from a config, the key is the fix. */
function reasonOf(e: LsError): string {
  if (e.code === 'ENOINVENTORY') return `no Ansible inventory found at ${String(e.details.path)}`;
  return typeof e.details.message === 'string' ? e.details.message : e.message;
}
