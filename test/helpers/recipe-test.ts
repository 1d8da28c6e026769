/**
 * The one harness for recipe round trips: `lsbackup recipe test` through the built CLI with
 * --json, its stage events parsed, and the assertion that every stage passed in order.
 */
import { expect } from 'vitest';
import { cliOutput, runCli, type CliResult } from './cli.js';

/** The stages of `recipe test`, in the order they run (engine/app/recipe-test.ts). */
export const ROUND_TRIP_STAGES = ['validate', 'seed', 'apply', 'verify', 'destroy', 'restore', 'check'];

export interface StageEvent {
  type: 'stage';
  recipe: string;
  stage: string;
  status: 'start' | 'success' | 'failed';
  error?: string;
}

export interface RecipeTestRun extends CliResult {
  /** Every JSON event the run printed (stage, step, host, ... events). */
  events: Record<string, unknown>[];
  /** The stage ends, in order: [stage, status, error?]. */
  stages: { stage: string; status: string; error?: string }[];
}

/** Runs `lsbackup recipe test <recipe> --json <args>`; asserts nothing. */
export async function recipeTest(
  recipe: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RecipeTestRun> {
  const run = await runCli(['recipe', 'test', recipe, '--json', ...args], { timeoutMs: 600_000, ...options });
  const events = run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const stages = (events.filter((e) => e.type === 'stage' && e.status !== 'start') as unknown as StageEvent[]).map(({ stage, status, error }) => ({
    stage,
    status,
    ...(error !== undefined ? { error } : {}),
  }));
  return { ...run, events, stages };
}

/** Runs `recipe test` and asserts the round trip held: exit 0, every stage passed, in order. */
export async function expectRoundTrip(recipe: string, args: string[], options: Parameters<typeof recipeTest>[2] = {}): Promise<RecipeTestRun> {
  const run = await recipeTest(recipe, args, options);
  expect(run.stages, cliOutput(run)).toEqual(ROUND_TRIP_STAGES.map((stage) => ({ stage, status: 'success' })));
  expect(run.exitCode, cliOutput(run)).toBe(0);
  return run;
}
