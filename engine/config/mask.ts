import type { Redactor } from '../secrets/types.js';
import type { NotificationConfig } from './load.js';
import { notificationSecrets, SECRET_KEY, urlCredentials } from './credentials.js';
import { isSecretRef } from '../../targets/support/secret-ref.js';

const MASK = '***';

/**
 * The config as it may be shown: secret-looking keys masked (a `{secret: NAME}` reference is shown: a name, not a value), a notification's secrets masked
 * (its URL keeps its scheme, host and query), credentials written into URLs
 * masked, and anything the redactor knows replaced.
 */
export function maskConfig<T>(value: T, redactor: Redactor): T {
  return redactor.redactValue(mask(value, []) as T);
}

function mask(value: unknown, path: string[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => mask(v, [...path, String(i)]));
  if (typeof value === 'string') return maskUrlCredentials(value);
  if (value === null || typeof value !== 'object') return value;
  // {secret: NAME} says where the value comes from (the variable to set), not the value.
  if (isSecretRef(value)) return value;
  const object = value as Record<string, unknown>;
  const secrets = path.at(-2) === 'notifications' && typeof object.type === 'string' ? notificationSecrets(object as unknown as NotificationConfig) : [];
  return Object.fromEntries(
    Object.entries(object).map(([k, v]) => {
      if (path.at(-1) === 'headers' || (SECRET_KEY.test(k) && typeof v === 'string')) return [k, MASK];
      if (typeof v === 'string' && secrets.includes(v)) return [k, k === 'url' ? maskUrlPath(v) : MASK];
      return [k, mask(v, [...path, k])];
    }),
  );
}

/**
 * https://hc-ping.com/<uuid> -> https://hc-ping.com/*** (the path may be the credential); a query
 * stays, its credentials masked (`?page=2&token=***`), so the output still says where.
 */
function maskUrlPath(url: string): string {
  try {
    const u = new URL(maskUrlCredentials(url));
    return `${u.protocol}//${u.host}/${MASK}${u.search}`;
  } catch {
    return MASK;
  }
}

/** scheme://user:password@host/…?token=t -> scheme://user:***@host/…?token=*** */
function maskUrlCredentials(text: string): string {
  return urlCredentials(text).reduce((masked, credential) => masked.split(credential).join(MASK), text);
}
