import type { VarOverrides } from '../recipes/var-overrides.js';

/** A profile file (schemas/profile.schema.json): manifest values → recipe vars and secrets. */
export interface Profile {
  apiVersion: 'lsbackup/v1';
  kind: 'Profile';
  metadata: { name: string; description?: string };
  spec: {
    manifest: string;
    values: ProfileValue[];
  };
}

export interface ProfileValue {
  kind: string;
  value: string;
  var?: string;
  secret?: string;
}

/** What a build dir's manifest gives the run through a profile. */
export interface ProfileValues {
  profile: string;
  manifest: string;
  /** component → var → value; between a recipe's defaults and the inventory. */
  vars: VarOverrides;
  /** Secret values, used when the configured secret sources do not have the name. */
  secrets: Map<string, string>;
}
