#!/usr/bin/env node
// Generates the reference section of docs/recipes.md from schemas/recipe.schema.json,
// so the schema's descriptions are the one source of truth.
//   node scripts/gen-recipe-docs.mjs          rewrite docs/recipes.md
//   node scripts/gen-recipe-docs.mjs --check  exit 1 when the committed docs are stale
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);
export const docsPath = fileURLToPath(new URL('docs/recipes.md', root));
const schemaPath = fileURLToPath(new URL('schemas/recipe.schema.json', root));
const BEGIN = '<!-- BEGIN GENERATED REFERENCE (scripts/gen-recipe-docs.mjs) -->';
const END = '<!-- END GENERATED REFERENCE -->';

function resolve(schema, node) {
  if (!node?.$ref) return node;
  const target = node.$ref
    .replace(/^#\//, '')
    .split('/')
    .reduce((n, k) => n[k], schema);
  return { ...resolve(schema, target), ...node, $ref: undefined, description: node.description ?? target.description };
}

function typeText(schema, node) {
  node = resolve(schema, node);
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum) return node.enum.map((v) => `\`${v}\``).join(' \\| ');
  if (node.oneOf) return node.oneOf.map((n) => typeText(schema, n)).join(' or ');
  if (node.type === 'array') return `list of ${node.items?.oneOf ? 'steps' : typeText(schema, node.items ?? {})}`;
  if (node.type === 'object' && node.properties) return 'mapping';
  if (node.type === 'object') return 'mapping of name: value';
  return node.type ?? 'any';
}

const cell = (text) => String(text).replaceAll('|', '\\|').replaceAll('\n', ' ');

/** One table per object: the document, then each nested mapping and step kind, in schema order. */
export function renderReference(schema) {
  const sections = [];
  const seen = new Set();
  const table = (title, node) => {
    node = resolve(schema, node);
    if (seen.has(title)) return;
    seen.add(title);
    const required = new Set(node.required ?? []);
    const rows = Object.entries(node.properties).map(([key, child]) => {
      const c = resolve(schema, child);
      const example =
        c.examples?.[0] !== undefined ? `<br>e.g. \`${cell(typeof c.examples[0] === 'string' ? c.examples[0] : JSON.stringify(c.examples[0]))}\`` : '';
      return `| \`${key}\`${required.has(key) ? ' (required)' : ''} | ${cell(typeText(schema, child))} | ${cell(c.description ?? '')}${example} |`;
    });
    sections.push(`### ${title}\n\n${node.description}\n\n| key | type | meaning |\n| --- | --- | --- |\n${rows.join('\n')}\n`);
    for (const [key, child] of Object.entries(node.properties)) {
      const c = resolve(schema, child);
      if (c.type === 'object' && c.properties) table(`${title === 'Recipe' ? '' : title + '.'}${key}`, c);
    }
  };
  table('Recipe', schema);
  table('Command step', schema.$defs.commandStep);
  table('Collect step', schema.$defs.collectStep);
  table('Files step', schema.$defs.filesStep);
  return `${BEGIN}\n## Reference\n\n${sections.join('\n')}${END}`;
}

/** The docs file with its generated section replaced. */
export function regenerate(docs, schema) {
  const start = docs.indexOf(BEGIN);
  const end = docs.indexOf(END);
  if (start < 0 || end < 0) throw new Error(`${docsPath} lacks the generated-reference markers`);
  return docs.slice(0, start) + renderReference(schema) + docs.slice(end + END.length);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
  const docs = readFileSync(docsPath, 'utf8');
  const next = regenerate(docs, schema);
  if (process.argv.includes('--check')) {
    if (next !== docs) {
      console.error('docs/recipes.md is out of date: run node scripts/gen-recipe-docs.mjs');
      process.exit(1);
    }
  } else writeFileSync(docsPath, next);
}
