/**
 * `verify`: stream a stored backup back and check it two ways. The stored bytes against the
 * `.sha256` sidecar (for an encrypted backup, the ciphertext), and, once decrypted, every
 * entry's size and sha256 against the archive's own metadata.json.
 */
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { formatFromName, parseBackupName, sidecarNames, verifyArchive } from '../archive/index.js';
import { isWarning, type VerifyProblem } from '../archive/verify.js';
import { createMeter } from '../archive/meter.js';
import type { Target } from '../../targets/types.js';
import { counted, decrypted, readText, type DecryptOptions } from './objects.js';
import { isLsError, LsError } from '../errors.js';
import { parseMetadata } from '../archive/read-metadata.js';
import { checkSignature, type SignatureCheck, type TrustedKey } from '../signing/index.js';

export interface BackupVerifyReport {
  name: string;
  ok: boolean;
  storedBytes: number;
  /** Digest of the stored bytes, and what the sidecar says. */
  sha256: string;
  expectedSha256?: string;
  /** Entries checked against metadata.json; undefined when they could not be (encrypted, no key). */
  entriesChecked?: number;
  /** metadata.json's signature against the trusted keys; undefined when the content was not read. */
  signature?: SignatureCheck;
  problems: (VerifyProblem | { kind: 'digest' | 'encrypted' | 'signature' | 'metadata'; message: string; path?: undefined })[];
}

export async function verifyBackup(
  target: Target,
  name: string,
  options: DecryptOptions & { spoolDir?: string; trusted?: TrustedKey[]; count?: (bytes: number) => void } = {},
): Promise<BackupVerifyReport> {
  const parsed = parseBackupName(name);
  if (!parsed) throw new LsError('EUSAGE', { message: `'${name}' is not an lsbackup archive name` });
  const expectedSha256 = await readText(target, sidecarNames(name, false).sha256, {})
    .then((t) => t.trim().split(/\s+/)[0])
    .catch(() => undefined);
  const problems: BackupVerifyReport['problems'] = [];
  const canDecrypt = !parsed.encrypted || (options.identities?.length ?? 0) > 0;

  let digest = await measured(counted(await target.get(name), options.count), async (stored) => {
    if (!canDecrypt) {
      stored.resume(); // digest only
      await once(stored, 'end');
      return undefined;
    }
    const plain = parsed.encrypted ? decrypted(stored, name, options) : stored;
    return verifyArchive(plain, formatFromName(name), { spoolDir: options.spoolDir });
  });
  // The content check stopped early (a damaged archive): hash the stored bytes in a second pass.
  if (!digest.complete) {
    const content = digest.result;
    digest = { ...(await measured(await target.get(name), async (s) => void (s.resume(), await once(s, 'end')))), result: content };
  }

  if (!expectedSha256) problems.push({ kind: 'digest', message: `no ${sidecarNames(name, false).sha256} sidecar to check the archive digest against` });
  else if (expectedSha256 !== digest.sha256) {
    problems.push({ kind: 'digest', message: `the stored archive has sha256 ${digest.sha256}, its .sha256 sidecar says ${expectedSha256}` });
  }
  const content = digest.result;
  const metadataProblem = content?.metadataBytes && invalidMetadata(content.metadataBytes, name);
  if (metadataProblem) problems.push({ kind: 'metadata', message: metadataProblem });
  // Invalid metadata explains a missing entries list better than 'no-metadata' does.
  if (content) problems.push(...content.problems.filter((p) => !(metadataProblem && p.kind === 'no-metadata')));
  else problems.push({ kind: 'encrypted', message: 'encrypted and no --identity given: only the stored digest was checked, not the entries' });
  const signature = content?.metadataBytes ? checkSignature(content.metadataBytes, content.signature, options.trusted ?? []) : undefined;
  if (signature?.status === 'bad') problems.push({ kind: 'signature', message: `metadata.json has a BAD signature: ${signature.reason}` });
  return {
    name,
    ok: problems.every((p) => p.kind === 'encrypted' || isWarning(p)),
    storedBytes: digest.bytes,
    sha256: digest.sha256,
    expectedSha256,
    entriesChecked: content?.entriesChecked,
    signature,
    problems,
  };
}

/** Why metadata.json is not metadata lsbackup can read (the EMETADATA message), or undefined when it is. */
function invalidMetadata(bytes: Buffer, name: string): string | undefined {
  try {
    parseMetadata(bytes, name);
    return undefined;
  } catch (e) {
    if (isLsError(e) && e.code === 'EMETADATA') return e.message;
    throw e;
  }
}

/** Run `consume` on the stream while hashing every byte that passes; `complete` says whether it reached the end. */
async function measured<T>(stored: Readable, consume: (s: Readable) => Promise<T>): Promise<{ result: T; bytes: number; sha256: string; complete: boolean }> {
  const meter = createMeter();
  let complete = false;
  meter.on('end', () => (complete = true));
  stored.on('error', (e) => meter.destroy(e));
  const result = await consume(stored.pipe(meter));
  if (!complete) {
    meter.destroy();
    stored.destroy();
  }
  return { result, bytes: meter.bytes(), sha256: complete ? meter.sha256() : '', complete };
}
