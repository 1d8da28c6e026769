import { LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Problem, SourcePosition } from '../errors.js';
import { aliasExpansionProblem, yamlSyntaxProblems } from '../schema/yaml-source.js';

/**
 * YAML the way Ansible reads it (PyYAML: YAML 1.1, so `yes`/`no` are booleans, `<<` merges,
 * duplicate keys allowed with the last one winning), keeping node positions for messages.
 */
export interface YamlFile {
  doc: Document.Parsed;
  /** file:line:col of a node, for problems. */
  at(node: Node | null | undefined): SourcePosition;
}

export function readYaml(text: string, file: string, problems: Problem[]): YamlFile | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', merge: true, uniqueKeys: false, lineCounter });
  if (doc.errors.length > 0) {
    problems.push(...yamlSyntaxProblems(file, doc.errors));
    return undefined;
  }
  const bomb = aliasExpansionProblem(doc, file, lineCounter);
  if (bomb) {
    problems.push(bomb);
    return undefined;
  }
  return {
    doc,
    at(node) {
      if (!node?.range) return { file };
      const { line, col } = lineCounter.linePos(node.range[0]);
      return { file, line, col };
    },
  };
}
