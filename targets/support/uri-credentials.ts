/**
 * A network target's URI names a place, never the way in: `s3://KEY:SECRET@bucket/…` or an Azure
 * SAS URL's `?sv=…&sig=…` would be printed wherever the target is named (errors, the summary, the
 * run report) and, given with -t, read from lsbackup's command line by every local user.
 */
const NETWORK_SCHEMES = new Set(['s3', 'azfile']);

/** The URI with its user info and query replaced by `***` when it carries either; else undefined. */
export function uriCarryingCredentials(uri: string): string | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*@)?([^?#]*)([?#][\s\S]*)?$/i.exec(uri);
  if (!m || !NETWORK_SCHEMES.has(m[1]!.toLowerCase()) || (!m[2] && !m[4])) return undefined;
  return `${m[1]}://${m[2] ? '***@' : ''}${m[3]}${m[4] ? `${m[4][0]}***` : ''}`;
}

export const URI_CREDENTIALS_MESSAGE = 'carries credentials in the URI (user info or a query such as a SAS token)';

export const URI_CREDENTIALS_HINT =
  "write the URI without them and give the key as a secret: --target-secret KEY=NAME, or {secret: NAME} in the target's options (s3: accessKeyId and secretAccessKey; azfile: accountKey or sasToken)";
