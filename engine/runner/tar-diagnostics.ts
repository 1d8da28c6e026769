import { nameFromBytes } from '../archive/name-bytes.js';

/**
 * GNU tar's notes about files that changed while it read them. It exits 1 for them ("some
 * files differ"), which is no failure of the collect: a live log grows during every backup.
 * A file that grew is stored as it was when tar began (its size then); one that shrank is
 * zero-padded to that size. Both are kept and marked `changedDuringRead` in metadata.json.
 */
const CHANGED = /^tar: (.*): (?:file changed as we read it|File shrank by \d+ bytes; padding with zeros)$/;
/** A file that went between tar listing its directory and opening it (a rotated log): not stored, also exit 1. */
const REMOVED = /^tar: .*: File removed before we read it$/;

/** tar's exit status when the only trouble was files that changed while read. */
const TAR_FILES_DIFFER = 1;

/** True when tar's exit 1 is explained by files that changed or went while it read: a warning, not a failure. */
export function onlyFilesDiffered(exitCode: number | undefined, stderr: string): boolean {
  return exitCode === TAR_FILES_DIFFER && stderr.split('\n').some((line) => CHANGED.test(line) || REMOVED.test(line));
}

/** The host paths tar said changed while it read them (tar's quoting undone). */
export function changedWhileRead(stderr: string): string[] {
  return stderr.split('\n').flatMap((line) => {
    const m = CHANGED.exec(line);
    return m ? [nameFromBytes(unquoteTarName(m[1]!))] : [];
  });
}

const C_ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '\\': 92, '"': 34, "'": 39, '?': 63 };

/** GNU tar prints names with C escapes (`\n`, `\\`, `\377` for a byte that is not printable): back to bytes. */
function unquoteTarName(quoted: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < quoted.length; i++) {
    const c = String.fromCodePoint(quoted.codePointAt(i)!);
    const octal = c === '\\' ? /^[0-7]{3}/.exec(quoted.slice(i + 1)) : null;
    if (octal) {
      bytes.push(parseInt(octal[0], 8));
      i += 3;
    } else if (c === '\\' && C_ESCAPES[quoted[i + 1] ?? ''] !== undefined) {
      bytes.push(C_ESCAPES[quoted[++i]!]!);
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
      i += c.length - 1; // a character outside the BMP is two code units
    }
  }
  return Buffer.from(bytes);
}
