export { bundledProfilesDir, buildDirProfileValues, loadProfiles, parseProfile } from './load.js';
export type { Profile, ProfileValue, ProfileValues } from './types.js';
