import type { Host } from '../inventory/types.js';
import type { LoadedRecipe, OnError } from '../recipes/types.js';
import type { Become } from '../executors/types.js';
import type { PhaseName } from '../recipes/lifecycle.js';
import type { Transport } from './transport.js';

/** A step with every template rendered, ready for an executor. */
export interface RenderedStep {
  phase: PhaseName;
  name: string;
  kind: 'command' | 'collect' | 'files';
  /** The shell command line (for collect steps: the generated tar command). */
  command: string;
  /** Collect steps: the command of an incremental run (incremental-collect-command.ts). */
  incrementalCommand?: string;
  /** Archive entry (relative to `<component>/<host>/`) receiving stdout. */
  output?: string;
  /** With output: an incremental run may store an unchanged output as a reference (content-addressed-output.ts). */
  contentAddressed?: boolean;
  /** Archive entry streamed to stdin (restore). */
  input?: string;
  /** For `files` restore steps: the collected path to put back. */
  files?: string;
  /** For `files` restore steps: nothing in the backup under the path is not an error. */
  filesOptional?: boolean;
  /** For restore steps with an input: a backup without that entry skips the step. */
  inputOptional?: boolean;
  /** stderr: a successful command's stderr becomes a warning (run-phases.ts). */
  warnOn?: 'stderr';
  env: Record<string, string>;
  timeoutMs: number;
  onError: OnError;
  become?: Become;
  /** false when the step's `when` rendered falsy: shown in plans, never run. */
  enabled: boolean;
}

/** What will run on one host for one component. */
export interface HostPlan {
  host: Host;
  detect?: RenderedStep;
  version?: RenderedStep;
  steps: RenderedStep[];
  /** How the host's collect and snapshot-output streams travel (always 'plain' for restore). */
  transport: Transport;
}

/** One component of the run: a recipe and the hosts it may run on. */
export interface ComponentPlan {
  name: string;
  recipe: LoadedRecipe;
  selection: 'first' | 'all';
  serial: boolean;
  hosts: HostPlan[];
  /**
   * Every version of the recipe, newest first, each rendered for the same hosts (in the same
   * order as `hosts`); the one whose `appliesTo` fits the detected version runs.
   */
  variants: { recipe: LoadedRecipe; hosts: HostPlan[] }[];
  /** Set when the component takes no part in the run (no hosts in its groups, --skip). */
  skipReason?: string;
  /** Set when it cannot run although it should (a secret it uses is missing): it fails on every host. */
  failReason?: string;
}

export interface RunPlan {
  backupId: string;
  cluster: string;
  startedAt: Date;
  components: ComponentPlan[];
}

export type HostStatus = 'success' | 'failed' | 'skipped';

export interface StepOutcome {
  phase: PhaseName;
  name: string;
  status: 'success' | 'failed' | 'skipped';
  exitCode?: number;
  durationMs: number;
  error?: string;
}

export interface HostOutcome {
  name: string;
  status: HostStatus;
  durationMs: number;
  bytes: number;
  error?: string;
  /** Why a host was skipped (detect said absent, another host was chosen). */
  note?: string;
  steps: StepOutcome[];
  /** Set when the host compressed its streams (compress: remote); absent: they came as is. */
  transport?: 'zstd';
}

export interface ComponentOutcome {
  name: string;
  recipe: { name: string; version: string; digest: string; file: string };
  componentVersion?: string;
  status: 'success' | 'partial' | 'failed' | 'skipped';
  durationMs: number;
  hosts: HostOutcome[];
  error?: string;
}
