#!/usr/bin/env node
// Parses and validates the recipes and profiles lsbackup ships (the directories given, e.g.
// `recipes/ profiles/`) with the engine tsc just built, and writes the value of each valid one,
// keyed by the sha256 of its bytes, to dist/engine/schema/validators/prevalidated.json; run by
// `npm run build`, after build-validators. At run time engine/schema/precompiled.ts takes a file
// whose bytes are exactly these from there instead of parsing its YAML and checking its templates
// again (most of a run's start-up, BENCHMARKS.md "Session 26"); any other bytes are checked as
// before. A shipped file that is not valid stops the build: it would fail every run.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';

const dist = new URL('../dist/', import.meta.url);
const { parseRecipe } = await import(new URL('engine/recipes/load.js', dist).href);
const { parseProfile } = await import(new URL('engine/profiles/load.js', dist).href);

const yamlFiles = (dir) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();

const parsers = {
  recipes: ['recipe', (file, bytes) => parseRecipe(file, bytes).loaded?.recipe],
  profiles: ['profile', (file, bytes) => parseProfile(file, bytes).value],
};
const out = { recipe: {}, profile: {} };
for (const dir of process.argv.slice(2)) {
  const parser = parsers[path.basename(path.resolve(dir))];
  if (!parser) throw new Error(`build-prevalidated: ${dir}: expected a recipes/ or profiles/ directory`);
  const [kind, parse] = parser;
  for (const file of yamlFiles(dir)) {
    const bytes = readFileSync(file);
    const value = parse(file, bytes);
    if (value === undefined) throw new Error(`build-prevalidated: ${file} is not valid: run \`node dist/cli/lsbackup.js validate ${file}\``);
    out[kind][createHash('sha256').update(bytes).digest('hex')] = JSON.stringify(value);
  }
}
const target = new URL('engine/schema/validators/prevalidated.json', dist);
writeFileSync(target, `${JSON.stringify(out)}\n`);
console.log(`build-prevalidated: ${Object.keys(out.recipe).length} recipes, ${Object.keys(out.profile).length} profiles -> ${target.pathname}`);
