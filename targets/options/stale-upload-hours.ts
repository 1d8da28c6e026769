/** The `staleUploadHours` option of the targets several machines write to (S3, Azure Files): one description, one default. */
import { DEFAULT_STALE_UPLOAD_HOURS } from '../support/stale-leftovers.js';

/** `leftovers`: what an interrupted upload leaves in this store. */
export function staleUploadHoursOption(leftovers: string) {
  return {
    type: 'number',
    minimum: 0,
    default: DEFAULT_STALE_UPLOAD_HOURS,
    description: `${leftovers} of lsbackup backups not written to for this many hours are a dead run's leftovers: the next run and prune remove them (younger ones may be a run on another machine)`,
  } as const;
}
