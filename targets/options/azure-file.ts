/** The azfile:// target's options schema, apart from the plugin so that validating a config does not load the Azure SDK. */
import { LsError } from '../../engine/errors.js';
import { secretOption } from '../support/secret-ref.js';
import { staleUploadHoursOption } from './stale-upload-hours.js';
import { idleTimeoutOption } from './idle-timeout.js';

export const azureFileTargetOptionsSchema = {
  $id: 'https://lsbackup.dev/schemas/targets/azfile-options.json',
  title: 'Options of the azfile:// target',
  type: 'object',
  additionalProperties: false,
  properties: {
    accountKey: secretOption('Storage account key (base64)', 'AZURE_STORAGE_KEY'),
    sasToken: secretOption('SAS token with read, write, create, delete and list permissions (instead of accountKey)', 'AZURE_SAS_TOKEN'),
    endpoint: { type: 'string', description: 'File service endpoint', examples: ['https://myaccount.file.core.windows.net'] },
    rangeSize: { type: 'integer', minimum: 65536, maximum: 4 * 1024 * 1024, default: 4 * 1024 * 1024, description: 'Bytes per Put Range call' },
    staleUploadHours: staleUploadHoursOption('Temp files of interrupted uploads, and sidecars without their archive,'),
    idleTimeout: idleTimeoutOption(),
  },
};

/** `azfile://account/share/some/dir` -> its parts (dir without slashes at the ends). */
export function parseAzureFileUri(uri: string): { account: string; share: string; dir: string } {
  const match = /^azfile:\/\/([^/]+)\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new LsError('ENOTARGET', { uri });
  return { account: match[1]!, share: match[2]!, dir: match[3]!.replace(/^\/+|\/+$/g, '') };
}

/** The file service of an account: the `endpoint` option, else Azure's. */
export function azureFileEndpoint(account: string, endpoint: string | undefined): string {
  return (endpoint ?? `https://${account}.file.core.windows.net`).replace(/\/+$/, '');
}

/** The store a URI names, however it is written (`azfile://a/s/d` and `azfile://a/s//d/` are one directory). */
export function azureFileStoreKey(uri: string, endpoint: string | undefined): string {
  const { account, share, dir } = parseAzureFileUri(uri);
  return `azfile ${azureFileEndpoint(account, endpoint)} ${share}/${dir}`;
}
