import type { Readable } from 'node:stream';

/** Collects a child's output as JSON lines and waits for the ones a test expects. */
export function jsonLines(stream: Readable) {
  const lines: Record<string, unknown>[] = [];
  let buffer = '';
  stream.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p));
      } catch {
        lines.push({ type: 'text', text: p });
      }
    }
  });
  return {
    lines,
    /** Resolves with the first line after `from` (an index into lines) that matches. */
    async waitFor(
      match: (l: Record<string, unknown>) => boolean,
      { from = 0, timeoutMs = 120_000 } = {},
    ): Promise<{ line: Record<string, unknown>; index: number }> {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const index = lines.findIndex((l, i) => i >= from && match(l));
        if (index >= 0) return { line: lines[index]!, index };
        if (Date.now() > end) throw new Error(`no matching line; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
