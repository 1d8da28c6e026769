import type { BackupMetadata } from '../archive/metadata.js';
import type { Redactor } from '../secrets/types.js';

/**
 * Masks secrets in the free text of metadata.json (errors, notes, step names: they can quote a
 * command's stderr) and nowhere else. Names, paths and addresses are data that verify and
 * restore match byte for byte: a secret whose value happens to occur in a host name or a file
 * name (`localhost`, `fine.txt`) must not change them. A secret cannot *make* such a name: the
 * recipe check refuses `{{secret}}` in output, input, path, exclude and files.
 */
export function redactMetadataText(metadata: BackupMetadata, redactor: Redactor): BackupMetadata {
  const text = <T extends object, K extends keyof T>(record: T, ...keys: K[]): T => {
    const masked = { ...record };
    for (const key of keys) if (typeof masked[key] === 'string') masked[key] = redactor.redact(masked[key] as string) as T[K];
    return masked;
  };
  return {
    ...metadata,
    components: metadata.components.map((c) => ({
      ...text(c, 'error'),
      hosts: c.hosts.map((h) => ({ ...text(h, 'error', 'note'), steps: h.steps.map((s) => text(s, 'name', 'error')) })),
    })),
    entries: metadata.entries.map((e) => (e.error === undefined ? e : text(e, 'error'))),
  };
}
