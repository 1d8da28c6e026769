import type { NotificationConfig } from './load.js';

/** Keys whose values are credentials wherever they appear (target options, headers, URL query parameters...). */
export const SECRET_KEY = /pass|secret|token|credential|auth|api.?key|access.?key|private.?key|account.?key|sas|^sig$/i;

/**
 * The values of a notification that are secrets: masked wherever the config is shown
 * (config/mask.ts) and added to a run's redactor before anything is sent (notify/notifier.ts).
 * Its URL, whatever the type: Slack, Discord and Teams webhooks (often `type: webhook`), ping
 * and ntfy URLs carry their credential in the path. Also tokens, header values, routing keys,
 * and a password and credential-named query parameters in the URL (urlCredentials).
 */
export function notificationSecrets(config: NotificationConfig): string[] {
  return namedNotificationSecrets(config).map((s) => s.value);
}

/** notificationSecrets, each with the setting it is (`headers.Authorization`), to name it without its value. */
export function namedNotificationSecrets(config: NotificationConfig): { setting: string; value: string }[] {
  const own = (() => {
    switch (config.type) {
      case 'webhook':
        return Object.entries(config.headers ?? {}).map(([name, value]) => ({ setting: `headers.${name}`, value }));
      case 'ntfy':
        return config.token ? [{ setting: 'token', value: config.token }] : [];
      case 'pagerduty':
        return [{ setting: 'routingKey', value: config.routingKey }];
      default:
        return [];
    }
  })();
  return [
    ...(config.url !== undefined ? [{ setting: 'url', value: config.url }] : []),
    ...own,
    ...urlCredentials(config.url).map((value) => ({ setting: 'a credential in url', value })),
  ];
}

/**
 * The credentials written into a URL, as written: the password of `scheme://user:password@host/…`
 * and the values of query parameters named like one (`?token=…`, `&sig=…`).
 */
export function urlCredentials(url: string | undefined): string[] {
  const m = url === undefined ? null : /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*?:([^/?#@]*)@)?[^?#]*(?:\?([^#]*))?/i.exec(url);
  if (!m) return [];
  const [, password, query] = m;
  const values = (query ?? '').split('&').flatMap((pair) => {
    const at = pair.indexOf('=');
    return at > 0 && SECRET_KEY.test(decodeName(pair.slice(0, at))) ? [pair.slice(at + 1)] : [];
  });
  return [...(password ? [password] : []), ...values].filter((v) => v !== '');
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}
