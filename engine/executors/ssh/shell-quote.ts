/** POSIX sh single-quoting: the value reaches the command as one literal word. */
export function shQuote(value: string): string {
  return /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
