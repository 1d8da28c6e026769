import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { invalid, type Problem } from '../errors.js';
import { readCapped } from '../input-limits.js';
import { aliasExpansionProblem } from '../schema/yaml-source.js';

/** One document of a manifest: its kind, its specification, and where it is (for problems). */
export interface ManifestDocument {
  kind: string;
  specification: unknown;
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

/**
 * A deployment tool's manifest: YAML documents, each with a `kind` (LambdaStack's manifest.yml:
 * `kind: lambdastack-cluster`, `kind: configuration/grafana`, …). Syntax problems are EINVALID at
 * file:line:col; documents without a kind are ignored.
 */
export async function readManifest(file: string): Promise<ManifestDocument[]> {
  const read = await readCapped(file, 'manifest');
  if (read.problem) throw invalid('Manifest', [read.problem]);
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(read.bytes.toString('utf8'), { lineCounter, uniqueKeys: false });
  if (!Array.isArray(docs)) return [];
  const problems: Problem[] = [];
  for (const doc of docs) {
    for (const error of doc.errors) {
      const pos = error.linePos?.[0];
      problems.push({
        file,
        line: pos?.line,
        col: pos?.col,
        message: `YAML syntax error: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      });
    }
    if (doc.errors.length === 0) {
      const bomb = aliasExpansionProblem(doc, file, lineCounter);
      if (bomb) problems.push(bomb);
    }
  }
  if (problems.length) throw invalid('Manifest', problems);
  return docs.flatMap((doc) => {
    const value = doc.toJS() as { kind?: unknown; specification?: unknown } | null;
    return value && typeof value === 'object' && typeof value.kind === 'string'
      ? [{ kind: value.kind, specification: value.specification, doc, lineCounter }]
      : [];
  });
}
