/**
 * An incremental needs its base, and that one its own, down to the full (docs/incremental.md):
 * a backup that stays in the target keeps its whole chain, whatever the retention rules say.
 */
import type { BackupSummary } from './listing.js';

/**
 * Splits `remove` into what may go and what a staying backup needs (with why). `all` is every
 * backup in the target: one outside the pruned cluster/job still holds on to its bases.
 */
export function keepChainsWhole(
  all: BackupSummary[],
  remove: BackupSummary[],
): { kept: { backup: BackupSummary; reasons: string[] }[]; remove: BackupSummary[] } {
  const removing = new Map(remove.map((b) => [b.name, b]));
  const kept: { backup: BackupSummary; reasons: string[] }[] = [];
  const staying = all.filter((b) => !removing.has(b.name));
  const keep = (needed: BackupSummary, reason: string) => {
    removing.delete(needed.name);
    kept.push({ backup: needed, reasons: [reason] });
    staying.push(needed);
  };
  while (staying.length > 0) {
    const b = staying.pop()!;
    if (!b.metadata) {
      // Its base is unknown (a damaged or unreadable sidecar; restore reads the archive's own
      // metadata.json): any older backup of its cluster may be one, and stays while it does.
      // Its time is its name's, in whole seconds; its base's comes from metadata, with milliseconds:
      // a base started in the same second is "older" too.
      const within = wholeSeconds(b.time);
      for (const older of [...removing.values()].filter((r) => r.cluster === b.cluster && wholeSeconds(r.time) <= within)) {
        keep(older, `kept: ${b.name} may be an incremental on it (its metadata cannot be read: ${b.metadataNote ?? 'not read'})`);
      }
      continue;
    }
    const base = b.metadata.base?.archive;
    const needed = base === undefined ? undefined : removing.get(base);
    if (needed) keep(needed, `kept: ${b.name} is an incremental on it (a chain is kept whole)`);
  }
  return { kept, remove: remove.filter((b) => removing.has(b.name)) };
}

const wholeSeconds = (time: Date) => Math.floor(time.getTime() / 1000);
