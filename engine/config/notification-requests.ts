import type { Problem } from '../errors.js';
import { positionOf, type YamlSource } from '../schema/index.js';
import { requestProblems } from '../notify/deliver.js';
import { notificationsIn } from './notification-lists.js';

/**
 * Every notification's URL and headers as fetch will take them (notify/deliver.ts requestProblems,
 * what each delivery checks too): a header name with a space would fail every delivery, and a run
 * only warns about a notification it could not send, so alerting would be silently dead.
 */
export function notificationRequestProblems(source: YamlSource): Problem[] {
  return notificationsIn(source).flatMap(({ at, index, notification: n }) => {
    if (typeof n.url !== 'string') return [];
    const headers = n.headers && typeof n.headers === 'object' ? (n.headers as Record<string, string>) : undefined;
    const name = `${at.join('.')}[${index}]`;
    return requestProblems({ url: n.url, headers }).map(({ header, message }) => ({
      file: source.file,
      ...positionOf(source, header === undefined ? [...at, index, 'url'] : [...at, index, 'headers', header], header === undefined ? 'value' : 'key'),
      message: header === undefined ? `'${name}.url' ${message}` : `'${name}.headers': ${message}`,
    }));
  });
}
