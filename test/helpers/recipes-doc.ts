/**
 * docs/recipes.md taken apart the one way every docs test reads it: its fenced code blocks (with
 * the heading they sit under) and the text of a section. The unit test checks what the blocks
 * say (test/recipes/docs-examples.test.ts); the integration test runs them
 * (test/recipes/docs-examples-run.int.test.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './cli.js';

export const recipesDoc = readFileSync(path.join(repoRoot, 'docs/recipes.md'), 'utf8');

export interface DocBlock {
  /** The fence's language word (`yaml`, `sh`), '' for a bare fence. */
  lang: string;
  /** The block's text, ending in a newline. */
  text: string;
  /** The nearest heading above it, e.g. `## A complete example`. */
  heading: string;
}

/** Every fenced block of the page, in page order (headings inside blocks are not headings). */
export const docBlocks: DocBlock[] = (() => {
  const blocks: DocBlock[] = [];
  let heading = '';
  let open: DocBlock | undefined;
  for (const line of recipesDoc.split('\n')) {
    if (open) {
      if (line !== '```') open.text += line + '\n';
      else {
        blocks.push(open);
        open = undefined;
      }
    } else if (line.startsWith('```')) open = { lang: line.slice(3).trim(), text: '', heading };
    else if (/^#+ /.test(line)) heading = line;
  }
  return blocks;
})();

/** The blocks under one heading (in one language), failing when there is none. */
export function blocksUnder(heading: string, lang: string): string[] {
  const found = docBlocks.filter((b) => b.heading === heading && b.lang === lang).map((b) => b.text);
  if (found.length === 0) throw new Error(`docs/recipes.md has no ${lang || 'plain'} block under '${heading}'`);
  return found;
}

/** The yaml blocks that are whole recipes. */
export const recipeBlocks = docBlocks.filter((b) => b.lang === 'yaml' && b.text.startsWith('apiVersion: lsbackup/v1')).map((b) => b.text);

/** The text of a section, from its heading to the next heading of any level. */
export function docSection(heading: string): string {
  const start = recipesDoc.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`docs/recipes.md has no section '${heading}'`);
  const rest = recipesDoc.slice(start + heading.length + 2);
  return rest.slice(0, rest.search(/^#/m));
}
