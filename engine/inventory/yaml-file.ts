import { LineCounter, parseDocument, type Document, type Node, type Tags } from 'yaml';
import type { Problem, SourcePosition } from '../errors.js';
import { aliasExpansionProblem, yamlSyntaxProblems } from '../schema/yaml-source.js';

/**
 * PyYAML's booleans: YAML 1.1's without `y`/`n` (which PyYAML, and so Ansible, reads as strings;
 * the yaml library's 1.1 schema turned a var named `n` into the key "false").
 */
const PYYAML_TRUE = /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;
const PYYAML_FALSE = /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;
const pyyamlBooleans = (tags: Tags): Tags =>
  tags.map((tag) =>
    typeof tag === 'object' && tag.tag === 'tag:yaml.org,2002:bool' && 'test' in tag && tag.test
      ? { ...tag, test: tag.test.test('yes') ? PYYAML_TRUE : PYYAML_FALSE }
      : tag,
  );

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
  // A whole file encrypted by ansible-vault (group_vars/all/vault.yml) reads as one string.
  if (text.startsWith('$ANSIBLE_VAULT;')) {
    problems.push({
      file,
      line: 1,
      col: 1,
      message: 'this file is encrypted with ansible-vault, which lsbackup does not decrypt',
      hint: `decrypt it where lsbackup runs (ansible-vault decrypt ${file}), or move it out of the build dir and give lsbackup the passwords it needs through secrets.sources in lsbackup.config.yaml`,
    });
    return undefined;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', merge: true, uniqueKeys: false, lineCounter, customTags: pyyamlBooleans });
  if (doc.errors.length > 0) {
    problems.push(...yamlSyntaxProblems(file, doc.errors, text));
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
