/**
 * A line diff of two recipe texts for the restore plan, so an operator sees what the recipe
 * carried in an unsigned backup would run instead of the installed one (engine/restore/plan.ts).
 */

const CONTEXT = 2;
/** LCS cells; recipes are small, a pathological pair is summarised instead of diffed. */
const MAX_CELLS = 4_000_000;

/** `-` lines only in `from`, `+` lines only in `to`, two lines of context, `…` for skipped runs. */
export function lineDiff(from: string, to: string): string {
  const a = from.replace(/\n$/, '').split('\n');
  const b = to.replace(/\n$/, '').split('\n');
  if (a.length * b.length > MAX_CELLS) return `(${a.length} and ${b.length} lines: too large to show here; compare the files)`;
  // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
  const width = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * width + j] = a[i] === b[j] ? lcs[(i + 1) * width + j + 1]! + 1 : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
    }
  }
  const ops: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push(`  ${a[i++]}`);
      j++;
    } else if (i < a.length && (j === b.length || lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!)) ops.push(`- ${a[i++]}`);
    else ops.push(`+ ${b[j++]}`);
  }
  const near = (k: number) => ops.slice(Math.max(0, k - CONTEXT), k + CONTEXT + 1).some((op) => op[0] !== ' ');
  const shown: string[] = [];
  ops.forEach((op, k) => {
    if (near(k)) shown.push(op);
    else if (shown.at(-1) !== '…') shown.push('…');
  });
  return shown.join('\n');
}
