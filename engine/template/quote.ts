/** Characters that never need quoting in a POSIX shell word. No `=` (a leading `a=b` word is an assignment), no `~` (tilde expansion). */
const SAFE_BARE_WORD = /^[A-Za-z0-9_@%+:,./-]+$/;

/**
 * Quote a value so that a POSIX shell reads it back as exactly one word with the same bytes:
 * safe words stay bare (`/etc/hosts`, `abc_1.2`), everything else goes in single quotes
 * with each `'` written as `'\''`. The empty string becomes `''`.
 */
export function shellQuote(value: string): string {
  if (SAFE_BARE_WORD.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
