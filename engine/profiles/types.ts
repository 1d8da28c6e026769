import type { VarOverrides } from '../recipes/var-overrides.js';

/** A profile file: manifest values → recipe vars and secrets (generated from schemas/profile.schema.json). */
export type { Profile, ProfileValue } from '../shapes/profile.generated.js';

/** What a build dir's manifest gives the run through a profile. */
export interface ProfileValues {
  profile: string;
  manifest: string;
  /** component → var → value; between a recipe's defaults and the inventory. */
  vars: VarOverrides;
  /** Secret values, used when the configured secret sources do not have the name. */
  secrets: Map<string, string>;
}
