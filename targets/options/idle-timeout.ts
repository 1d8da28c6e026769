/** The `idleTimeout` option of the network stores (S3, Azure Files): one description, one default. */
import { DEFAULT_IDLE_TIMEOUT_SECONDS } from '../support/idle-timeout.js';

export function idleTimeoutOption() {
  return {
    type: 'number',
    minimum: 0,
    default: DEFAULT_IDLE_TIMEOUT_SECONDS,
    description:
      'Seconds a request may go without the store sending or taking a byte before it fails and is retried; after the last retry the run fails and releases its locks. A download lsbackup itself pauses does not count. 0: wait forever',
  } as const;
}
