/**
 * The lifecycle as data: which phases a run has, in order, what kind of steps each holds and
 * which always run. The runner executes this table and the template checker walks it; neither
 * has phase names of its own. The names are the recipe's own keys (spec.backup / spec.restore).
 */
import type { Recipe, Step } from './types.js';

/** `tests` is `lsbackup recipe test`'s own steps (seed, destroy, check), each stage run alone. */
export type Operation = 'backup' | 'restore' | 'tests';
type BackupPhase = keyof Recipe['spec']['backup'];
/** restore.after (an ordering) and restore.together (a host order) are not phases. */
type RestorePhase = Exclude<keyof NonNullable<Recipe['spec']['restore']>, 'after' | 'together'>;
type TestsPhase = keyof NonNullable<Recipe['spec']['tests']>;
export type PhaseName = BackupPhase | RestorePhase | TestsPhase;

export interface PhaseDefinition<Name extends PhaseName = PhaseName> {
  name: Name;
  /** Runs even when an earlier phase failed or the run was interrupted (cleanup, restart a service). */
  alwaysRun: boolean;
  /** Whether steps of this phase may write archive entries (backup) or read them (restore). */
  dataFlow: 'none' | 'toArchive' | 'fromArchive';
}

export const lifecycle: {
  backup: readonly PhaseDefinition<BackupPhase>[];
  restore: readonly PhaseDefinition<RestorePhase>[];
  tests: readonly PhaseDefinition<TestsPhase>[];
} = {
  backup: [
    { name: 'pre', alwaysRun: false, dataFlow: 'none' },
    { name: 'snapshot', alwaysRun: false, dataFlow: 'toArchive' },
    { name: 'collect', alwaysRun: false, dataFlow: 'toArchive' },
    { name: 'post', alwaysRun: true, dataFlow: 'none' },
  ],
  restore: [
    { name: 'pre', alwaysRun: false, dataFlow: 'none' },
    { name: 'apply', alwaysRun: false, dataFlow: 'fromArchive' },
    { name: 'post', alwaysRun: true, dataFlow: 'none' },
  ],
  tests: [
    { name: 'seed', alwaysRun: false, dataFlow: 'none' },
    { name: 'destroy', alwaysRun: false, dataFlow: 'none' },
    { name: 'check', alwaysRun: false, dataFlow: 'none' },
  ],
};

/** The steps of an operation's phases, by phase name, from the recipe's section of that name. */
export function phaseSteps(spec: Recipe['spec'], operation: Operation): Partial<Record<PhaseName, Step[]>> {
  return (spec[operation] ?? {}) as Partial<Record<PhaseName, Step[]>>;
}
