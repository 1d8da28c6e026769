/**
 * --only and --skip (or a config's components.only/skip) name components: a misspelt name would
 * run what the operator excluded — a `--skip kafak` still runs kafka's steps, which stop each
 * broker in turn — or leave out what they chose, with a run that says success. Refused before
 * anything runs, by apply and plan (against the recipes) and restore (against the backup).
 */
import { LsError } from '../errors.js';
import { didYouMean } from '../schema/closest.js';

/**
 * Throws EUSAGE for the first name of `selection` not in `names`: "<flag> names 'x', which
 * <absent> (did you mean …); <listed>: a, b".
 */
export function refuseUnknownNames(
  names: string[],
  selection: { only?: string[]; skip?: string[] },
  wording: { only: string; skip: string; absent: string; listed: string },
): void {
  for (const [flag, given] of [
    [wording.only, selection.only],
    [wording.skip, selection.skip],
  ] as const) {
    const unknown = (given ?? []).find((name) => !names.includes(name));
    if (unknown === undefined) continue;
    const hint = didYouMean(unknown, names);
    throw new LsError('EUSAGE', {
      message: `${flag} names '${unknown}', which ${wording.absent}${hint ? ` (${hint})` : ''}; ${wording.listed}: ${names.join(', ')}`,
    });
  }
}
