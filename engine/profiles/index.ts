export { bundledProfilesDir, buildDirProfileValues, loadProfiles } from './load.js';
export type { Profile, ProfileValue, ProfileValues } from './types.js';
