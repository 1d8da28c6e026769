/** The entries every archive ends with: lsbackup's own, never a component's. */

export const METADATA_ENTRY = 'metadata.json';
/** The SSH signature of metadata.json's bytes (signed backups), the entry just before it. */
export const SIGNATURE_ENTRY = 'metadata.json.sig';
/** The recipes that made the backup (`<name>-<version>.yaml`): carried by the archive, listed by metadata.json, no component's. */
export const RECIPES_PREFIX = 'lsbackup/recipes';
