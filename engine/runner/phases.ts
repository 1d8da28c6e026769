/**
 * The lifecycle as data: which phases a run has, in order, what kind of steps
 * each holds and which always run. The executor reads this table; it has no phase names of
 * its own.
 */
export type Operation = 'backup' | 'restore';
export type PhaseName = 'pre' | 'snapshot' | 'collect' | 'post' | 'apply';

export interface PhaseDefinition {
  name: PhaseName;
  /** Runs even when an earlier phase failed or the run was interrupted (cleanup, restart a service). */
  alwaysRun: boolean;
  /** Whether steps of this phase may write archive entries (backup) or read them (restore). */
  dataFlow: 'none' | 'toArchive' | 'fromArchive';
}

export const lifecycle: Record<Operation, readonly PhaseDefinition[]> = {
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
};
