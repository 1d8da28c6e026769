/**
 * `lsbackup validate --shellcheck`: every command of a recipe, rendered as it would run
 * (engine/recipes/rendered-commands.ts), linted by shellcheck (Debian package `shellcheck`) as
 * POSIX sh — commands run with `sh -c` — and each finding placed at the recipe's file:line:col.
 */
import { spawn } from 'node:child_process';
import { LsError } from '../errors.js';
import { parseYaml } from '../schema/index.js';
import { recipePosition, renderedCommands, type RenderedCommand } from './rendered-commands.js';
import type { LoadedRecipe } from './types.js';

export const SHELLCHECK_SEVERITIES = ['error', 'warning', 'info', 'style'] as const;
export type ShellcheckSeverity = (typeof SHELLCHECK_SEVERITIES)[number];

export interface ShellcheckFinding {
  file: string;
  line: number;
  col: number;
  /** e.g. SC2086 */
  code: string;
  level: ShellcheckSeverity;
  message: string;
  wiki: string;
  recipe: string;
}

interface Json1Comment {
  line: number;
  column: number;
  level: ShellcheckSeverity;
  code: number;
  message: string;
}

/** Findings of `severity` or worse in every command of the recipes, in file order. */
export async function shellcheckRecipes(recipes: LoadedRecipe[], severity: ShellcheckSeverity): Promise<ShellcheckFinding[]> {
  const findings: ShellcheckFinding[] = [];
  for (const loaded of recipes) {
    const { source } = parseYaml(loaded.file, loaded.source);
    for (const command of renderedCommands(loaded)) {
      for (const c of await shellcheck(command, severity)) {
        const code = `SC${c.code}`;
        findings.push({
          file: loaded.file,
          ...recipePosition(source, command, c.line, c.column),
          code,
          level: c.level,
          message: c.message,
          wiki: `https://www.shellcheck.net/wiki/${code}`,
          recipe: loaded.recipe.metadata.name,
        });
      }
    }
  }
  return findings;
}

/** One command through `shellcheck -f json1` on stdin. */
function shellcheck(command: RenderedCommand, severity: ShellcheckSeverity): Promise<Json1Comment[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('shellcheck', ['--shell=sh', '--format=json1', `--severity=${severity}`, '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new LsError('ENOTOOL', { tool: 'shellcheck', for: 'for validate --shellcheck', package: 'shellcheck' }) : e),
    );
    child.once('close', (code) => {
      // 0: clean, 1: findings; anything else is shellcheck failing.
      if (code !== 0 && code !== 1) return reject(new Error(`shellcheck exited with ${code}: ${stderr.trim()}`));
      resolve((JSON.parse(stdout) as { comments: Json1Comment[] }).comments);
    });
    child.stdin.on('error', () => undefined); // it may exit before reading all (reported on close)
    child.stdin.end(command.text);
  });
}
