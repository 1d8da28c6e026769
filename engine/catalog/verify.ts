/**
 * `verify`: stream a stored backup back and check it two ways. The stored bytes against the
 * `.sha256` sidecar (for an encrypted backup, the ciphertext), and, once decrypted, every
 * entry's size and sha256 against the archive's own metadata.json, which the metadata and
 * signature sidecars must repeat (sidecar-match.ts).
 */
import { once } from 'node:events';
import { formatFromName, parseBackupName, sidecarNames, verifyArchive, type BackupMetadata } from '../archive/index.js';
import { isSidecarWarning, isWarning, type SidecarWarning, type VerifyProblem } from '../archive/verify.js';
import type { Target } from '../../targets/types.js';
import { decrypted, readStored, recordedDigests, type DecryptOptions } from './objects.js';
import { STORED_SIZE_LINE } from '../archive/names.js';
import { isLsError, LsError } from '../errors.js';
import { parseMetadata } from '../archive/read-metadata.js';
import { heldPath } from '../archive/held-path.js';
import type { EntryRecord } from '../archive/types.js';
import { checkSignature, type SignatureCheck, type TrustedKey } from '../signing/index.js';
import { sidecarMismatches } from './sidecar-match.js';
import { isWrongIdentity } from '../crypto/crypto-error.js';
import { baseMismatch, vouchedFor } from './chain-base.js';
import { NO_SIDECAR, sidecarDigestMismatch } from './stored-digest.js';
import { describeMadeAs, madeAsAnother, type MadeAs } from '../archive/made-as.js';

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
  problems: (
    | VerifyProblem
    | {
        kind: 'digest' | 'encrypted' | 'identity' | 'signature' | 'metadata' | 'renamed' | SidecarWarning | 'chain' | 'note';
        message: string;
        path?: undefined;
      }
  )[];
  /** An incremental: the older backups its references were checked in (docs/incremental.md). */
  chain?: string[];
  /**
   * What makes it unrestorable, when it is: this backup, when its own checks failed or its chain
   * as a whole does not hold (a member missing, a reference no member holds), and each member of
   * its chain that failed its own checks or is not the archive its child recorded. Newest first.
   */
  damaged?: string[];
  /**
   * The archives (this one, members of its chain) whose read broke off (a download cut, a target
   * gone away): neither found damaged nor intact. A read failure may pass: verify again.
   */
  readBroken?: string[];
}

/**
 * What verify says of a `.sha256` sidecar whose `# size` line is not the archive's size while its
 * digest is: the archive restores, but the next --incremental takes it for replaced and makes a full.
 */
function wrongSizeLine(name: string, recordedSize: number, storedBytes: number): string {
  return `its .sha256 sidecar records a stored size of ${recordedSize} bytes, the archive is ${storedBytes} (its sha256 is the one recorded): the size line is wrong, and the next --incremental makes a full instead of building on it; write '${STORED_SIZE_LINE} ${storedBytes} ${name}' there`;
}

/** What verify and show say of an archive stored under another backup's name: intact, but not the backup its name says. */
export function renamedWarning(made: MadeAs): string {
  const restored = made.otherCluster
    ? `a backup of cluster '${made.cluster}', which restore refuses by this name unless --allow-renamed-cluster is passed`
    : "restoring it by this name restores that backup's data";
  return `${describeMadeAs(made)}, not as its name says: ${restored}`;
}

/**
 * Said, but no problem: what was not checked (encrypted, no --identity; no `.sha256` sidecar), or
 * how it was checked instead (a chain member without its sidecar, held to the sha256 its child recorded).
 */
export function isNote(p: Pick<BackupVerifyReport['problems'][number], 'kind'>): boolean {
  return p.kind === 'encrypted' || p.kind === 'note';
}

/**
 * Whether a problem says the store does not hold what was written, which is what marks a backup
 * damaged (damage.ts). Not: a note (a .sha256 sidecar that is not there to compare with, as of an
 * archive fetched with `get`) or a warning, or an entry its run recorded as stored incomplete (a
 * host cut mid-stream: the backup says partial, and always did).
 */
function showsDamage(p: BackupVerifyReport['problems'][number]): boolean {
  return !(isNote(p) || p.kind === 'identity' || p.kind === 'recorded-error' || p.kind === 'broken-read' || isWarning(p));
}

/** Whether a read of the archive broke off: it was not read whole, so it is neither damaged nor intact. */
const readBroke = (report: BackupVerifyReport) => report.problems.some((p) => p.kind === 'broken-read');

/** `count` is told each stored chunk's size and `countEntry` each entry as they are read (live progress of the newest archive). */
type VerifyOptions = DecryptOptions & { spoolDir?: string; trusted?: TrustedKey[]; count?: (bytes: number) => void; countEntry?: () => void };

/** One backup, and for an incremental every older backup its references need (verifyChain). */
export async function verifyBackup(target: Target, name: string, options: VerifyOptions = {}): Promise<BackupVerifyReport> {
  const { report, metadata } = await verifyOne(target, name, options);
  const own = report.problems.some(showsDamage) ? [name] : [];
  const ownBroken = readBroke(report) ? [name] : [];
  const marks = (damaged: string[], readBroken: string[]) => ({ ...(damaged.length ? { damaged } : {}), ...(readBroken.length ? { readBroken } : {}) });
  if (!metadata?.entries.some((e) => e.ref !== undefined)) return { ...report, ...marks(own, ownBroken) };
  const chain = await verifyChain(target, name, metadata, options);
  const problems = [...report.problems, ...chain.problems];
  const damaged = [...new Set([...own, ...chain.damaged])];
  return {
    ...report,
    ok: report.ok && chain.problems.every((p) => isNote(p) || isWarning(p)),
    problems,
    chain: chain.members,
    ...marks(damaged, [...ownBroken, ...chain.readBroken]),
  };
}

/**
 * Follows `base` from an incremental until every reference is resolved: each member must be in
 * the target, pass verify itself, have the sha256 its child recorded, and hold each referenced
 * file with the size and sha256 the newest metadata gives.
 */
async function verifyChain(
  target: Target,
  name: string,
  newest: BackupMetadata,
  options: VerifyOptions,
): Promise<{ members: string[]; problems: BackupVerifyReport['problems']; damaged: string[]; readBroken: string[] }> {
  const problems: BackupVerifyReport['problems'] = [];
  const damaged: string[] = [];
  const readBroken: string[] = [];
  // Each problem is of one archive: a member's own, else the chain's as a whole, which is the newest's.
  const chain = (message: string, of = name) => {
    problems.push({ kind: 'chain', message });
    if (!damaged.includes(of)) damaged.push(of);
  };
  // By the path the holder keeps the bytes under (heldPath): one holder's file may be several references' bytes.
  const pending = new Map<string, EntryRecord[]>();
  for (const e of newest.entries) {
    if (e.ref === undefined) continue;
    const held = heldPath(e);
    pending.set(held, [...(pending.get(held) ?? []), e]);
  }
  const members: string[] = [];
  const visited = new Set([newest.backupId]);
  let child = { name, metadata: newest };
  while (pending.size > 0) {
    const base = child.metadata.base;
    if (!base || visited.has(base.backupId)) {
      chain(`${pending.size} referenced file(s), e.g. '${[...pending.keys()][0]}', are in no backup of the chain (it ends at ${child.name})`);
      break;
    }
    visited.add(base.backupId);
    if (!(await target.stat(base.archive))) {
      chain(`the chain needs ${base.archive} (backup ${base.backupId}, the base of ${child.name}), which is not in ${target.uri}`);
      break;
    }
    members.push(base.archive);
    const { report, metadata } = await verifyOne(target, base.archive, { ...options, count: undefined, countEntry: undefined });
    // A read that broke off twice leaves the digest unknown (empty): nothing to compare.
    const replaced = report.sha256 ? baseMismatch(base, child.name, report.sha256) : undefined;
    // A member's sidecar that list, prune or --incremental cannot go by is said, its other warnings not.
    for (const p of report.problems.filter((p) => (!isWarning(p) || isSidecarWarning(p)) && !isNote(p))) {
      const message = `${base.archive}: ${p.message}`;
      if (isSidecarWarning(p)) problems.push({ kind: p.kind, message });
      else if (showsDamage(p)) chain(message, base.archive);
      else problems.push({ kind: 'chain', message });
    }
    // As restore does: the sha256 its child recorded vouches for a member without a .sha256 sidecar (chain-base.ts).
    if (report.expectedSha256 === undefined && report.sha256 && !report.problems.some((p) => p.kind === 'digest') && !replaced)
      problems.push({ kind: 'note', message: vouchedFor(base.archive, child.name) });
    if (replaced) chain(replaced, base.archive);
    // Its read broke off (said above): what it holds, and the chain beyond it, are unknown, not wrong.
    if (readBroke(report)) {
      readBroken.push(base.archive);
      break;
    }
    if (!metadata || metadata.backupId !== base.backupId) {
      chain(`${base.archive} is not backup ${base.backupId}, which ${child.name} was based on`, base.archive);
      break;
    }
    for (const held of metadata.entries) {
      const refs = pending.get(held.path) ?? [];
      for (const ref of refs.filter((r) => r.ref === base.backupId)) {
        if (held.ref !== undefined || held.sha256 !== ref.sha256 || held.size !== ref.size) {
          chain(`'${held.path}' in ${base.archive} is not the file ${name} refers to (sha256 ${held.sha256 ?? 'none'}, expected ${ref.sha256})`);
        }
      }
      const elsewhere = refs.filter((r) => r.ref !== base.backupId);
      if (elsewhere.length > 0) pending.set(held.path, elsewhere);
      else pending.delete(held.path);
    }
    child = { name: base.archive, metadata };
  }
  return { members, problems, damaged, readBroken };
}

async function verifyOne(target: Target, name: string, options: VerifyOptions): Promise<{ report: BackupVerifyReport; metadata?: BackupMetadata }> {
  const parsed = parseBackupName(name);
  if (!parsed) throw new LsError('EUSAGE', { message: `'${name}' is not an lsbackup archive name` });
  // A sidecar that records no sha256 is damage, said in restore's words.
  const recorded = await recordedDigests(target, name);
  const damagedSidecar = recorded?.damaged;
  const expectedSha256 = recorded?.archive;
  const problems: BackupVerifyReport['problems'] = [];
  const canDecrypt = !parsed.encrypted || (options.identities?.length ?? 0) > 0;
  // An identity the backup was not encrypted for reads nothing: the content is unchecked, not damaged.
  let wrongIdentity = false;

  const digest = await readStored(
    target,
    name,
    async (stored) => {
      if (!canDecrypt) {
        stored.resume(); // digest only
        await once(stored, 'end');
        return undefined;
      }
      const plain = parsed.encrypted ? await decrypted(stored, name, options) : stored;
      plain.on('error', (e) => (wrongIdentity ||= isWrongIdentity(e)));
      return verifyArchive(plain, formatFromName(name), { spoolDir: options.spoolDir, onEntry: options.countEntry });
    },
    options.count,
  );

  // As restore goes on without one (an archive fetched with `get`): its entries are checked, its own digest is not.
  if (damagedSidecar) problems.push({ kind: 'digest', message: damagedSidecar });
  else if (digest.digestRead) {
    const message = `reading it again for its stored digest broke off too: ${digest.digestRead.message}; the digest was not checked: verify again`;
    problems.push({ kind: 'broken-read', message });
  } else if (!expectedSha256) problems.push({ kind: 'note', message: `${NO_SIDECAR} (${sidecarNames(name, false).sha256})` });
  else if (expectedSha256 !== digest.sha256) {
    problems.push({ kind: 'digest', message: sidecarDigestMismatch(digest.sha256, expectedSha256) });
  } else if (recorded?.storedSize !== undefined && recorded.storedSize !== digest.bytes) {
    // The archive is the one recorded; only the line is wrong, and --incremental goes by it.
    problems.push({ kind: 'sidecar-size', message: wrongSizeLine(name, recorded.storedSize, digest.bytes) });
  }
  const content = wrongIdentity ? undefined : digest.result;
  const { metadata, problem: metadataProblem } = checkedMetadata(content?.metadataBytes, name);
  if (metadataProblem) problems.push({ kind: 'metadata', message: metadataProblem });
  // By the archive's own metadata.json: intact, and restorable as the backup it was made as.
  const made = metadata && madeAsAnother(parsed, metadata);
  if (made) problems.push({ kind: 'renamed', message: renamedWarning(made) });
  // Invalid metadata explains a missing entries list better than 'no-metadata' does.
  if (content) problems.push(...content.problems.filter((p) => !(metadataProblem && p.kind === 'no-metadata')));
  else if (wrongIdentity) {
    problems.push({
      kind: 'identity',
      message: 'none of the identities given opens it (it was encrypted for other recipients): only the stored digest was checked, not the entries',
    });
  } else if (!expectedSha256 && !damagedSidecar) {
    // Neither the entries nor the digest: an exit 0 would say nothing was found in what was never looked at.
    problems.push({ kind: 'identity', message: 'encrypted and no --identity given, and no .sha256 sidecar: nothing could be checked; pass --identity' });
  } else problems.push({ kind: 'encrypted', message: 'encrypted and no --identity given: only the stored digest was checked, not the entries' });
  const signature = content?.metadataBytes ? checkSignature(content.metadataBytes, content.signature, options.trusted ?? []) : undefined;
  if (signature?.status === 'bad') problems.push({ kind: 'signature', message: `metadata.json has a BAD signature: ${signature.reason}` });
  // An archive not read to its end has nothing to hold its sidecars to; one that cannot be read is
  // a warning: restore goes by the archive's own metadata.json (restore/sidecars.ts).
  if (content && !problems.some((p) => p.kind === 'broken-read')) {
    for (const m of await sidecarMismatches(target, name, content, options))
      problems.push({ kind: m.unreadable ? 'unreadable-sidecar' : m.kind, message: m.message });
  }
  const report: BackupVerifyReport = {
    name,
    ok: problems.every((p) => isNote(p) || isWarning(p)),
    storedBytes: digest.bytes,
    sha256: digest.sha256,
    expectedSha256,
    entriesChecked: content?.entriesChecked,
    signature,
    problems,
  };
  return { report, metadata };
}

/** metadata.json parsed and validated, or why it is not metadata lsbackup can read (the EMETADATA message). */
function checkedMetadata(bytes: Buffer | undefined, name: string): { metadata?: BackupMetadata; problem?: string } {
  if (!bytes) return {};
  try {
    return { metadata: parseMetadata(bytes, name) };
  } catch (e) {
    if (isLsError(e) && e.code === 'EMETADATA') return { problem: e.message };
    throw e;
  }
}
