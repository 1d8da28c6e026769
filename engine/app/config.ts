import { existsSync } from 'node:fs';
import { emptyConfig, findConfigFile, loadConfig, type Config } from '../config/load.js';
import { LsError } from '../errors.js';

/** Loads the config named with --config, else ./lsbackup.config.yaml when present, else defaults. */
export async function loadRunConfig(options: { config?: string }): Promise<Config> {
  const file = findConfigFile(options.config);
  if (options.config && file && !existsSync(file)) {
    throw new LsError('EUSAGE', { message: `config file ${file} does not exist` });
  }
  return file ? loadConfig(file) : emptyConfig();
}
