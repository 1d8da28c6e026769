/**
 * How long the stores (S3, Azure Files) may go without progress before a request fails: one
 * default and one wording for both. Without a limit, a store that accepted a connection and
 * then sent nothing held a run, and the locks it holds, forever (a scheduled job never ended,
 * and every later run of its cluster waited behind it).
 */
import type { Readable } from 'node:stream';
import { LsError } from '../../engine/errors.js';
import { guardStalls } from './stall-guard.js';

/**
 * Long enough for a slow store's answer (a store may think a while over completing a large
 * multipart upload; AWS keeps such a connection alive with whitespace, not every store does,
 * and a retried completion can find the upload gone), short enough that a dead store ends the
 * run within minutes (each request is tried up to 3 or 4 times).
 */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 300;

const IDLE_SOCKET = 'no byte sent or received for';

/** What a socket that went idle for `idleMs` fails its request with (ETIMEDOUT: the SDKs retry it). */
export function idleSocketError(idleMs: number): Error {
  return Object.assign(new Error(`${IDLE_SOCKET} ${idleMs / 1000} s`), { code: 'ETIMEDOUT' });
}

/**
 * Whether an SDK's error is the idle limit: S3's handler fails with a TimeoutError, the Azure
 * SDK passes on idleSocketError's message, or an AbortError when an answer did not start in
 * time (lsbackup gives the Azure SDK no other abort signal).
 */
export function isIdleTimeout(e: unknown): boolean {
  const { name, message } = (e ?? {}) as Error;
  return name === 'TimeoutError' || name === 'AbortError' || (typeof message === 'string' && message.startsWith(IDLE_SOCKET));
}

/** `action` failed on the idle limit, in words an operator can act on. */
export function noAnswer(action: string, idleSeconds: number): string {
  return `${action}: the store sent or took nothing for ${idleSeconds} s (the target's idleTimeout option)`;
}

/** An upload's failure, told plainly when it was the idle limit. */
export function explainUploadFailure(e: unknown, name: string, idleSeconds: number): unknown {
  return isIdleTimeout(e) ? new Error(noAnswer(`uploading ${name}`, idleSeconds), { cause: e }) : e;
}

/** A download's body that fails once lsbackup has waited `idleSeconds` for its next bytes (guardStalls). */
export function guardDownload(body: Readable, target: string, name: string, idleSeconds: number): Readable {
  const message = `reading ${name}: the download stalled, nothing came for ${idleSeconds} s (the target's idleTimeout option)`;
  return guardStalls(body, idleSeconds * 1000, () => new LsError('ETARGET', { target, message }));
}
