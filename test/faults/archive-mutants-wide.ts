/**
 * The second family of seeded mutations for the verify/restore agreement test (seeds `w<n>`),
 * kept apart from archive-mutants.ts so that the first family's seeds keep their mutants: damage
 * an operator's copy, a partial upload, bit rot or tampering leaves in a target. The stored
 * archive overwritten by other bytes (random, zeros, another backup's) with its sidecars left; a
 * tar cut at an entry boundary or inside its end blocks, a zip at a record's signature; `.sha256`
 * lines malformed or wrong (first line, metadata line, `# size` line); the metadata sidecar and
 * `.sha256` rewritten consistently (a forgery `sha256sum -c` passes); a sidecar emptied; two
 * backups' archives (or whole backups) swapped under each other's names; a signature sidecar of
 * another backup; an encrypted object encrypted again for another recipient.
 */
import { execa } from 'execa';
import { readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  compress,
  decompress,
  decrypt,
  editMetadata,
  encrypt,
  int,
  joinTar,
  metadataSidecarOf,
  pick,
  sha256,
  splitTar,
  type Age,
  type Json,
  type Rng,
  type StoredBackup,
} from './archive-mutants.js';

export const WIDE_MUTATIONS = [
  'overwrite',
  'cut-at-boundary',
  'sha256-first-line',
  'sha256-metadata-line',
  'sha256-size-line',
  'forgery',
  'sidecar-empty',
  'swap-archives',
  'swap-backups',
  'signature-other',
  're-encrypt-other',
] as const;
export type WideMutation = (typeof WIDE_MUTATIONS)[number];

export interface WideContext {
  /** Backups of the other baselines (never changed: their bytes are copied in). */
  others: StoredBackup[];
  /** A recipient none of the test's identities opens. */
  stranger: Age;
}

const nameOf = (file: string) => path.basename(file);
const sha256Of = (object: string) => `${object}.sha256`;
const signatureOf = (object: string) => `${object}.metadata.json.sig`;

/** The `.sha256` sidecar as lsbackup writes it (docs/archive-format.md), for the files as they are now. */
async function consistentSha256(b: StoredBackup): Promise<string> {
  const name = nameOf(b.object);
  const metadata = metadataSidecarOf(b);
  const size = (await stat(b.object)).size;
  return `${sha256(await readFile(b.object))}  ${name}\n${sha256(await readFile(metadata))}  ${nameOf(metadata)}\n# size ${size} ${name}\n`;
}

/** Where a zip's records begin (local headers, central directory, its end): cut points a partial upload may stop at. */
function zipRecordOffsets(zip: Buffer): number[] {
  const offsets: number[] = [];
  for (const signature of [0x04034b50, 0x02014b50, 0x06054b50, 0x06064b50, 0x07064b50]) {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32LE(signature);
    for (let at = zip.indexOf(bytes); at >= 0; at = zip.indexOf(bytes, at + 1)) offsets.push(at);
  }
  return offsets.sort((a, b) => a - b);
}

/**
 * Applies `mutation` to `victim` (one member of `chain`, the copied target's backups, oldest
 * first). Returns what it did, or undefined when it does not apply to this backup.
 */
export async function mutateWide(
  rng: Rng,
  mutation: WideMutation,
  victim: StoredBackup,
  chain: StoredBackup[],
  context: WideContext,
): Promise<string | undefined> {
  const keepOrMatch = async (): Promise<string> => {
    if (rng() < 0.5) return '.sha256 kept';
    await writeFile(sha256Of(victim.object), await consistentSha256(victim));
    return '.sha256 rewritten to match (all three lines)';
  };
  const rewriteSha256 = async (edit: (lines: string[]) => string | undefined): Promise<string | undefined> => {
    const lines = (await readFile(sha256Of(victim.object), 'utf8')).split('\n');
    const said = edit(lines);
    if (said !== undefined) await writeFile(sha256Of(victim.object), lines.join('\n'));
    return said;
  };

  switch (mutation) {
    case 'overwrite': {
      const stored = await readFile(victim.object);
      const random = (n: number) => Buffer.from(Array.from({ length: n }, () => int(rng, 256)));
      const kind = pick(rng, ['random-same-size', 'random-other-size', 'zeros', 'another-backup'] as const);
      if (kind === 'another-backup') {
        const from = pick(rng, [...chain.filter((m) => m !== victim), ...context.others]);
        await writeFile(victim.object, await readFile(from.object));
        const of = chain.includes(from) ? 'this target' : nameOf(path.dirname(path.dirname(from.object)));
        return `overwritten by the archive ${nameOf(from.object)} of ${of}; its sidecars left`;
      }
      const size = kind === 'random-other-size' ? Math.max(1, stored.length + pick(rng, [-1, 1, 512, -512, int(rng, 4096) - 2048])) : stored.length;
      await writeFile(victim.object, kind === 'zeros' ? Buffer.alloc(size) : random(size));
      return `overwritten by ${size} ${kind === 'zeros' ? 'zero' : 'random'} bytes (was ${stored.length}); its sidecars left`;
    }
    case 'cut-at-boundary': {
      const plain = await decrypt(victim, await readFile(victim.object));
      let cut: Buffer;
      let said: string;
      if (victim.format === 'zip') {
        const at = pick(rng, zipRecordOffsets(plain));
        cut = plain.subarray(0, at);
        said = `zip cut at the record at ${at} of ${plain.length}`;
      } else {
        const tar = await decompress(victim.format, plain);
        const { members, tail } = splitTar(tar);
        if (rng() < 0.5) {
          const keep = int(rng, members.length);
          cut = joinTar(members.slice(0, keep), Buffer.alloc(0));
          said = `tar cut after ${keep} of ${members.length} members (no end blocks)`;
        } else {
          const keep = pick(rng, [0, 512, int(rng, Math.max(1, tail.length))]);
          cut = joinTar(members, tail.subarray(0, keep));
          said = `tar cut inside its end blocks: ${keep} of ${tail.length} bytes kept`;
        }
        cut = await compress(victim.format, cut);
      }
      await writeFile(victim.object, await encrypt(victim, cut));
      return `${said}${victim.age ? ' (inside the encryption)' : ''}; ${await keepOrMatch()}`;
    }
    case 'sha256-first-line':
      return rewriteSha256((lines) => {
        const [digest, ...rest] = lines[0]!.split('  ');
        const variant = pick(rng, ['uppercase', 'short', 'blank-first', 'bsd', 'crlf', 'bom', 'star', 'empty'] as const);
        if (variant === 'uppercase') lines[0] = [digest!.toUpperCase(), ...rest].join('  ');
        if (variant === 'short') lines[0] = [digest!.slice(1), ...rest].join('  ');
        if (variant === 'blank-first') lines.unshift('');
        if (variant === 'bsd') lines[0] = `SHA256 (${rest.join('  ')}) = ${digest}`;
        if (variant === 'crlf') lines.forEach((l, i) => (lines[i] = l ? `${l}\r` : l));
        if (variant === 'bom') lines[0] = `\ufeff${lines[0]}`;
        if (variant === 'star') lines[0] = `${digest} *${rest.join('  ')}`;
        if (variant === 'empty') lines.splice(0, lines.length, '');
        return `its .sha256 first line ${variant}`;
      });
    case 'sha256-metadata-line':
      return rewriteSha256((lines) => {
        if (lines.length < 3) return undefined;
        if (rng() < 0.5) {
          lines[1] = `${'0'.repeat(64)}  ${lines[1]!.split('  ')[1]}`;
          return 'its .sha256 records another digest of the metadata sidecar';
        }
        lines.splice(1, 1);
        return 'its .sha256 metadata line removed';
      });
    case 'sha256-size-line':
      return rewriteSha256((lines) => {
        const i = lines.findIndex((l) => l.startsWith('# size '));
        if (i < 0) return undefined;
        const [, , bytes, name] = lines[i]!.split(' ');
        const variant = pick(rng, ['plus-one', 'zero', 'not-a-number', 'other-name', 'removed'] as const);
        if (variant === 'plus-one') lines[i] = `# size ${Number(bytes) + 1} ${name}`;
        if (variant === 'zero') lines[i] = `# size 0 ${name}`;
        if (variant === 'not-a-number') lines[i] = `# size ${bytes}x ${name}`;
        if (variant === 'other-name') lines[i] = `# size ${Number(bytes) * 2} ${name}.other`;
        if (variant === 'removed') lines.splice(i, 1);
        return `its .sha256 size line ${variant}`;
      });
    case 'forgery': {
      // The metadata sidecar edited (or another backup's put there), then `.sha256` written to match: sha256sum -c passes.
      const sidecar = metadataSidecarOf(victim);
      let said: string | undefined;
      const others = chain.filter((m) => m !== victim);
      if (others.length > 0 && rng() < 0.4) {
        const from = pick(rng, others);
        await writeFile(sidecar, await readFile(metadataSidecarOf(from)));
        said = `the metadata sidecar of ${nameOf(from.object)} put in its place`;
      } else {
        const meta = JSON.parse((await decrypt(victim, await readFile(sidecar))).toString('utf8')) as Json;
        said = editMetadata(rng, meta);
        if (said === undefined) return undefined;
        await writeFile(sidecar, await encrypt(victim, Buffer.from(JSON.stringify(meta, null, 2))));
        said = `the metadata sidecar edited: ${said}`;
      }
      await writeFile(sha256Of(victim.object), await consistentSha256(victim));
      return `${said}; .sha256 rewritten to match it (a forgery sha256sum -c passes)`;
    }
    case 'sidecar-empty': {
      const sidecars = [sha256Of(victim.object), metadataSidecarOf(victim), signatureOf(victim.object)].filter((f) => existsSync(f));
      const which = pick(rng, sidecars);
      await truncate(which, 0);
      return `${nameOf(which)} truncated to zero bytes`;
    }
    case 'swap-archives':
    case 'swap-backups': {
      // A whole backup under another's name is that backup, intact: restored by that name it restores
      // as itself, and verify and restore say which backup it was made as (list and latest order by
      // the start time in its metadata, not by its name). Under the newest (the one restored) it is
      // no damage (the agreement test holds the restore to that backup's tree); under a base, the
      // child's reference tells it.
      const others = chain.filter((m) => m !== victim);
      if (others.length === 0) return undefined;
      const other = pick(rng, others);
      const files = (b: StoredBackup) =>
        mutation === 'swap-archives' ? [b.object] : [b.object, sha256Of(b.object), metadataSidecarOf(b), signatureOf(b.object)].filter((f) => existsSync(f));
      const [mine, theirs] = [files(victim), files(other)];
      for (const f of mine) await rename(f, `${f}.swapping`);
      for (const f of theirs) await rename(f, victim.object + f.slice(other.object.length));
      for (const f of mine) await rename(`${f}.swapping`, other.object + f.slice(victim.object.length));
      return `${mutation === 'swap-archives' ? 'archive' : 'archive and sidecars'} swapped with ${nameOf(other.object)}`;
    }
    case 'signature-other': {
      const signed = [...chain, ...context.others].filter((m) => m.object !== victim.object && existsSync(signatureOf(m.object)));
      if (signed.length === 0) return undefined;
      const from = pick(rng, signed);
      const had = existsSync(signatureOf(victim.object));
      await writeFile(signatureOf(victim.object), await readFile(signatureOf(from.object)));
      return `the signature sidecar of ${nameOf(from.object)} ${had ? 'put in place of its own' : 'added (it was unsigned)'}`;
    }
    case 're-encrypt-other': {
      if (!victim.age) return undefined;
      const stranger: StoredBackup = { ...victim, age: context.stranger };
      const what = pick(rng, ['archive', 'metadata sidecar', 'both'] as const);
      for (const file of what === 'both' ? [victim.object, metadataSidecarOf(victim)] : [what === 'archive' ? victim.object : metadataSidecarOf(victim)]) {
        await writeFile(file, await encrypt(stranger, await decrypt(victim, await readFile(file))));
      }
      return `${what} encrypted again for another recipient; ${await keepOrMatch()}`;
    }
  }
}

/** A recipient of a key of its own in `dir`: the archive's real identity does not open what is encrypted for it. */
export async function strangerKey(dir: string): Promise<Age> {
  const identity = path.join(dir, 'stranger-key.txt');
  await rm(identity, { force: true });
  await execa('age-keygen', ['-o', identity]);
  return { identity, recipient: /age1[0-9a-z]+/.exec(await readFile(identity, 'utf8'))![0] };
}
