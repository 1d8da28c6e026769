/**
 * docs/recipes.md's examples and rules, checked against the code so they cannot drift: every
 * recipe in the page validates (the worked example is the fixture the loader tests use), its
 * restore loads the dump only into a running server, the `when` false words are the ones the
 * engine treats as false, and each version example is what the engine takes from that output.
 * The examples are also run, on real servers: test/recipes/docs-examples-run.int.test.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { whenHolds } from '../../engine/ansible-boolean.js';
import { formatProblem } from '../../engine/errors.js';
import { parseRecipe } from '../../engine/recipes/index.js';
import { componentSemver } from '../../engine/recipes/versions.js';
import { docSection as section, recipeBlocks } from '../helpers/recipes-doc.js';

describe('docs/recipes.md examples', () => {
  it('every recipe in the page validates, and the worked example is the tested fixture', () => {
    expect(recipeBlocks.length).toBeGreaterThan(0);
    for (const block of recipeBlocks) {
      const { problems } = parseRecipe('docs/recipes.md', Buffer.from(block));
      expect(problems.map(formatProblem)).toEqual([]);
    }
    const fixture = readFileSync(path.join(import.meta.dirname, 'fixtures/valid/postgresql.yaml'), 'utf8');
    expect(recipeBlocks[0]).toBe(fixture.replace(/^# yaml-language-server:.*\n/, ''));
  });

  it("the worked example's restore starts the server before a command is fed from the backup", () => {
    const { loaded } = parseRecipe('docs/recipes.md', Buffer.from(recipeBlocks[0]!));
    const { pre = [], apply = [] } = loaded!.recipe.spec.restore!;
    let running = true;
    for (const step of [...pre, ...apply]) {
      const run = 'run' in step ? step.run : '';
      if (/systemctl stop/.test(run)) running = false;
      if (/systemctl (start|restart)/.test(run)) running = true;
      if ('input' in step && step.input) expect(running, `'${run}' is fed from the backup while the server is stopped`).toBe(true);
    }
  });

  it("lists exactly the words that make a step's when false", () => {
    const text = section('### When a step runs');
    const listed = /in any case: (.*?)\. Anything else/s.exec(text)![1]!;
    const falseWords = [...listed.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    expect(falseWords.length).toBeGreaterThan(5);
    for (const w of [...falseWords, ...falseWords.map((w) => w.toUpperCase()), '', '  ']) expect(whenHolds(w), `'${w}'`).toBe(false);
    const trueOnes = [.../Anything else \((.*?)\)/s.exec(text)![1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    for (const w of trueOnes) expect(whenHolds(w), `'${w}'`).toBe(true);
  });

  it('each version example is the version the engine takes from that output', () => {
    const pairs = [...section('## Versions').matchAll(/`([^`]+)` →\s+(\d+\.\d+\.\d+)/g)];
    expect(pairs.length).toBeGreaterThanOrEqual(3);
    for (const [, printed, version] of pairs) expect(componentSemver(printed), printed).toBe(version);
  });
});
