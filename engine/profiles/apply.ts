import Handlebars from 'handlebars';
import { isNode } from 'yaml';
import { invalid, type Problem } from '../errors.js';
import { ownMap } from '../own.js';
import type { ManifestDocument } from './manifest.js';
import type { Profile, ProfileValues } from './types.js';

/** The specification paths a value template reads (`{{a.b}}` → ['a', 'b']). */
function referencedPaths(template: string): string[][] {
  const paths: string[][] = [];
  const walk = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as { type?: string; path?: { type?: string; parts?: string[] }; params?: unknown[] };
    if (n.type === 'MustacheStatement' && n.path?.type === 'PathExpression' && !n.params?.length) paths.push(n.path.parts ?? []);
    for (const child of Object.values(node)) {
      if (Array.isArray(child)) child.forEach(walk);
      else if (child && typeof child === 'object') walk(child);
    }
  };
  walk(Handlebars.parse(template));
  return paths;
}

function lookup(root: unknown, path: string[]): unknown {
  let node = root;
  for (const part of path) {
    if (!node || typeof node !== 'object' || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/**
 * The values a profile takes from the manifest's documents. An entry whose document or any
 * referenced value is absent is left out (the recipe's default stays); a referenced value that is
 * a mapping or a list is a problem at its place in the manifest.
 */
export function profileValues(profile: Profile, manifestFile: string, documents: ManifestDocument[]): ProfileValues {
  const result: ProfileValues = { profile: profile.metadata.name, manifest: manifestFile, vars: ownMap(), secrets: new Map() };
  const problems: Problem[] = [];
  for (const entry of profile.spec.values) {
    const document = documents.find((d) => d.kind === entry.kind);
    if (!document) continue;
    let complete = true;
    for (const path of referencedPaths(entry.value)) {
      const value = lookup(document.specification, path);
      if (value === undefined || value === null) complete = false;
      else if (typeof value === 'object') {
        const node = document.doc.getIn(['specification', ...path], true);
        const at = isNode(node) && node.range ? document.lineCounter.linePos(node.range[0]) : undefined;
        problems.push({
          file: manifestFile,
          line: at?.line,
          col: at?.col,
          message: `${entry.kind} specification.${path.join('.')} is a ${Array.isArray(value) ? 'list' : 'mapping'}; profile ${profile.metadata.name} expects a single value for ${entry.var ?? `secret ${entry.secret}`}`,
        });
        complete = false;
      }
    }
    if (!complete) continue;
    const text = Handlebars.compile(entry.value, { strict: true, noEscape: true })(document.specification);
    if (entry.secret) result.secrets.set(entry.secret, text);
    else {
      const [component, name] = entry.var!.split('.') as [string, string];
      (result.vars[component] ??= ownMap())[name] = text;
    }
  }
  if (problems.length) throw invalid('Manifest', problems);
  return result;
}
