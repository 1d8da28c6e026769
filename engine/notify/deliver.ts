import { sleepUnlessAborted } from '../abortable-sleep.js';

/** One HTTP request a notification makes. */
export interface Delivery {
  url: string;
  method: 'POST' | 'GET';
  headers?: Record<string, string>;
  body?: string;
}

export interface DeliveryPolicy {
  timeoutMs: number;
  retries: number;
  /** First backoff; doubles per attempt. */
  backoffMs?: number;
  /** Once aborted, no further attempt is made: the one in flight (or the first) still runs to its end. */
  noMoreRetries?: AbortSignal;
  /** Called before each retry with how long it waits first. */
  onRetry?: (attempt: number, delayMs: number, error: Error) => void;
}

/** Worth another attempt: the endpoint may recover (network, timeout, throttling, server error). */
class Retryable extends Error {
  /** The wait the endpoint asked for (Retry-After), when it did. */
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The longest Retry-After honoured: an endpoint asking for more is given up (a run's notifications must end). */
export const MAX_RETRY_AFTER_MS = 300_000;

/** The last attempt failed and retries were left, but `noMoreRetries` called them off. */
export class RetriesCalledOff extends Error {}

/**
 * Sends one request with a per-attempt timeout and bounded retries with exponential backoff.
 * Rejects with the last error when every attempt failed (or retrying was called off). Only what
 * may pass on another attempt is retried (no answer, a network error, 429, 5xx): not a 4xx, nor
 * a request that cannot be made (toRequest).
 */
export async function deliver(delivery: Delivery, policy: DeliveryPolicy): Promise<void> {
  const backoff = policy.backoffMs ?? 1000;
  let last: Error = new Error('not attempted');
  for (let attempt = 0; attempt <= policy.retries; attempt++) {
    if (attempt > 0) {
      if (policy.noMoreRetries?.aborted) throw new RetriesCalledOff(last.message);
      // Never sooner than the endpoint asked (429/503 Retry-After), else the doubling backoff.
      const delayMs = Math.max(backoff * 2 ** (attempt - 1), last instanceof Retryable ? (last.retryAfterMs ?? 0) : 0);
      policy.onRetry?.(attempt, delayMs, last);
      await sleepUnlessAborted(delayMs, policy.noMoreRetries);
      if (policy.noMoreRetries?.aborted) throw new RetriesCalledOff(last.message);
    }
    try {
      await attemptOnce(delivery, policy.timeoutMs);
      return;
    } catch (e) {
      last = e as Error;
      if (!(e instanceof Retryable)) break;
    }
  }
  throw last;
}

/** Something in a delivery that no attempt can send; `header` names the header it is about. */
export interface RequestProblem {
  header?: string;
  message: string;
}

/**
 * What keeps fetch from making the request at all: a URL it cannot parse, a header name or value
 * it refuses, credentials in the URL beside an Authorization header. Never quotes a value (a
 * header's or the URL's may be a credential). `config validate` asks this of every notification.
 */
export function requestProblems(delivery: Pick<Delivery, 'url' | 'headers'>): RequestProblem[] {
  let url: URL;
  try {
    url = new URL(delivery.url);
  } catch {
    return [{ message: 'is not a URL (scheme://host/path)' }];
  }
  const problems: RequestProblem[] = [];
  for (const [name, value] of Object.entries(delivery.headers ?? {})) {
    try {
      new Headers([[name, value]]);
    } catch {
      const nameOk = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name);
      problems.push({
        header: name,
        message: nameOk
          ? `the value of header '${name}' is not a valid HTTP header value (no line breaks or control characters)`
          : `'${name}' is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_\`|~; no spaces)`,
      });
    }
  }
  if ((url.username || url.password) && Object.keys(delivery.headers ?? {}).some((h) => h.toLowerCase() === 'authorization')) {
    problems.push({ message: 'has credentials (user:password@) and an Authorization header too: keep one of them' });
  }
  try {
    if (url.username) decodeURIComponent(url.username);
    if (url.password) decodeURIComponent(url.password);
  } catch {
    problems.push({ message: 'has credentials (user:password@) that are not percent-encoded correctly' });
  }
  return problems;
}

/**
 * The request fetch sends. Credentials in the URL (user:password@), which fetch refuses, go as a
 * Basic Authorization header instead, as curl sends them: every notification type takes them,
 * and a ping or Slack URL has no headers of its own. A delivery with requestProblems throws.
 */
export function toRequest(delivery: Delivery, signal?: AbortSignal): Request {
  const [problem] = requestProblems(delivery);
  if (problem) throw new Error(`the request cannot be made: ${problem.header ? problem.message : `the URL ${problem.message}`}`);
  const url = new URL(delivery.url);
  const headers = new Headers(delivery.headers);
  if (url.username || url.password) {
    const userinfo = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.set('authorization', `Basic ${Buffer.from(userinfo).toString('base64')}`);
    url.username = '';
    url.password = '';
  }
  return new Request(url, { method: delivery.method, headers, body: delivery.body, signal });
}

async function attemptOnce(delivery: Delivery, timeoutMs: number): Promise<void> {
  // Outside the retried part: a request that cannot be made now never can (not retried).
  const request = toRequest(delivery, AbortSignal.timeout(timeoutMs));
  let response: Response;
  try {
    response = await fetch(request);
  } catch (e) {
    const err = e as Error & { cause?: Error };
    const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000}s` : (err.cause?.message ?? err.message);
    throw new Retryable(why);
  }
  // Drain the body so the connection is released.
  await response.arrayBuffer().catch(() => undefined);
  if (response.ok) return;
  const why = `HTTP ${response.status}`;
  if (response.status === 429 || response.status >= 500) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    if (retryAfterMs !== undefined && retryAfterMs > MAX_RETRY_AFTER_MS) {
      throw new Error(`${why}, asked to retry after ${Math.ceil(retryAfterMs / 1000)} s (more than the ${MAX_RETRY_AFTER_MS / 1000} s lsbackup waits)`);
    }
    throw new Retryable(why, retryAfterMs);
  }
  throw new Error(why);
}

/** Retry-After (RFC 9110): delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
