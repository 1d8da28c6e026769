/** Small formatting helpers shared by the reporters and `show`. */

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

/** A plain text table: columns padded to the widest cell. */
export function renderTable(header: string[], rows: string[][]): string {
  // Cells come from metadata anyone who can write a target can craft (a cluster named with an escape sequence).
  rows = rows.map((r) => r.map((c) => visibleControls(c ?? '')));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (c ?? '').padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

// eslint-disable-next-line no-control-regex -- exactly the control characters a terminal acts on (all but tab and line feed)
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Invisible format characters (Unicode category Cf: the bidirectional overrides and isolates
 * U+202A–U+202E and U+2066–U+2069, zero-width characters, U+FEFF) and the line and paragraph
 * separators: they make a line show other than what it holds (an override turns `evil.sh\u202etxt`
 * round), so they are written out as `\u202e`.
 */
const INVISIBLE_FORMAT = /[\p{Cf}\u2028\u2029]/gu;

/**
 * Text from hosts (a step's stderr) as a person's terminal or log may show it: control
 * characters written out (`\x1b`), so a compromised host cannot move the cursor, recolour or
 * rewrite lines (`\r`) of the operator's terminal, and invisible format characters written out
 * (`\u202e`), so none can make a name or path read otherwise; tabs and line breaks stay.
 */
export function visibleControls(text: string): string {
  return text
    .replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(INVISIBLE_FORMAT, (c) => {
      const code = c.codePointAt(0)!;
      return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
    });
}
