/** TypeScript view of schemas/recipe.schema.json (apiVersion lsbackup/v1). Keep both in step. */

export type OnError = 'fail' | 'continue';

/** A become setting on a recipe or step: true (root), false, or a user name. */
export type BecomeSetting = boolean | string;

export interface CommandStep {
  /** Optional label shown in progress and errors; defaults to the first words of `run`. */
  name?: string;
  /** Shell command (Handlebars template; substitutions are shell-quoted). */
  run: string;
  /** Archive entry name (relative to `<component>/<host>/`) that receives stdout. */
  output?: string;
  /** Archive entry streamed to stdin (restore steps). */
  input?: string;
  /** With input: a backup without that entry skips the step instead of failing it. */
  optional?: boolean;
  /** Environment for the command (templates; values may use `secret`, passed without the command line). */
  env?: Record<string, string>;
  /** Seconds; default from config (`defaults.stepTimeout`). */
  timeout?: number;
  onError?: OnError;
  become?: BecomeSetting;
  /** Only run when this template renders to a non-empty, non-"false" string. */
  when?: string;
}

export interface CollectStep {
  name?: string;
  /** One or more paths (templates, shell globs allowed) collected from the host as one tar stream. */
  path: string | string[];
  exclude?: string[];
  /** A missing path is not an error. */
  optional?: boolean;
  timeout?: number;
  onError?: OnError;
  become?: BecomeSetting;
  when?: string;
}

export interface FilesStep {
  name?: string;
  /** Put files collected under this path back (restore). */
  files: string;
  /** Nothing in the backup under the path is fine (an optional collect that found nothing). */
  optional?: boolean;
  timeout?: number;
  onError?: OnError;
  become?: BecomeSetting;
  when?: string;
}

export type Step = CommandStep | CollectStep | FilesStep;

export interface HostSelection {
  /** Inventory group(s) the component lives on. */
  group: string | string[];
  /** first: one host (the first that passes `detect`); all: every host of the groups. */
  run?: 'first' | 'all';
  /** Hosts run one at a time (e.g. stop a broker, copy, start it again). */
  serial?: boolean;
}

export interface Recipe {
  apiVersion: 'lsbackup/v1';
  kind: 'Recipe';
  metadata: {
    name: string;
    version: string;
    description?: string;
    /** Component versions this recipe applies to (semver range matched against `spec.version` output). */
    appliesTo?: string;
  };
  spec: {
    hosts: HostSelection;
    vars?: Record<string, unknown>;
    become?: BecomeSetting;
    detect?: string;
    /** Absent from its group's hosts is normal ('not installed'), not a failure. */
    optional?: boolean;
    version?: string;
    backup: {
      pre?: CommandStep[];
      snapshot?: CommandStep[];
      collect?: CollectStep[];
      post?: CommandStep[];
    };
    restore?: {
      /** Components whose restore in the same run ends before this one begins (e.g. kafka after zookeeper). */
      after?: string[];
      /** Hosts go through the restore in step: every host ends a phase before any begins the next (overrides hosts.serial). */
      together?: boolean;
      pre?: CommandStep[];
      apply?: (CommandStep | FilesStep)[];
      post?: CommandStep[];
    };
  };
}

/** A recipe as loaded: the parsed document plus where it came from. */
export interface LoadedRecipe {
  recipe: Recipe;
  file: string;
  /** sha256 of the file's bytes, recorded in metadata. */
  digest: string;
  /** The raw YAML text (kept for restore: the backup carries the recipe that made it). */
  source: string;
}
