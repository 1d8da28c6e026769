import { existsSync } from 'node:fs';
import { emptyConfig, loadConfig, type Config } from '../config/load.js';
import { discoverConfig } from '../config/discover.js';
import { LsError } from '../errors.js';

/** Loads the config named with --config or $LSBACKUP_CONFIG, else the first found (engine/config/discover.ts), else defaults. */
export async function loadRunConfig(options: { config?: string }): Promise<Config> {
  const found = discoverConfig(options.config);
  if (found && found.source !== 'found' && !existsSync(found.file)) {
    throw new LsError('EUSAGE', {
      message: `config file ${found.file}${found.source === '$LSBACKUP_CONFIG' ? ' (from $LSBACKUP_CONFIG)' : ''} does not exist`,
    });
  }
  return found ? loadConfig(found.file) : emptyConfig();
}
