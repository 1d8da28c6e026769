import { readFile } from 'node:fs/promises';
import { Cron } from 'croner';
import { watch, type FSWatcher } from 'chokidar';
import { checkConfigText, type Config } from '../config/load.js';
import { formatProblem, type Problem } from '../errors.js';
import { effectiveJobs, type EffectiveJob } from '../jobs/resolve.js';
import type { RunReport } from '../jobs/report.js';
import { validateRecipes } from '../recipes/index.js';
import type { LoadedRecipe } from '../recipes/types.js';
import { bundledRecipesDir } from '../paths.js';

/** One structured log line of the scheduler (printed as JSON with --json). */
export type ScheduleLog =
  | { type: 'schedule.start'; file: string; jobs: { name: string; schedule?: string; next?: string }[] }
  | { type: 'schedule.job'; change: 'added' | 'removed' | 'rescheduled'; job: string; schedule?: string; next?: string }
  | { type: 'schedule.unscheduled'; job: string; message: string }
  | { type: 'schedule.fire'; job: string }
  | { type: 'schedule.skip'; job: string; message: string }
  | { type: 'schedule.done'; job: string; status: RunReport['status']; exitCode?: number; archive?: string; durationMs?: number; error?: string }
  | { type: 'schedule.reload'; file: string; jobs: string[] }
  | { type: 'schedule.invalid'; file: string; problems: string[]; message: string }
  | { type: 'schedule.stop'; message: string };

export type JobRunner = (config: Config, job: EffectiveJob, recipes: LoadedRecipe[], signal: AbortSignal) => Promise<RunReport>;

interface Loaded {
  config: Config;
  jobs: Map<string, EffectiveJob>;
  /** Recipes per job, validated when the config was accepted: runs use this set, not the disk. */
  recipes: Map<string, LoadedRecipe[]>;
}

const recipePaths = (job: EffectiveJob) => job.recipes ?? [bundledRecipesDir];

/**
 * Runs each job on its cron, one run per job at a time, and follows edits of the config and
 * the recipes: a valid change is applied at once, an invalid one is logged (file:line:col) and
 * the last valid set keeps running.
 */
export class Scheduler {
  private current!: Loaded;
  private readonly crons = new Map<string, Cron>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private watcher?: FSWatcher;
  private reloadTimer?: NodeJS.Timeout;
  private stopping = false;

  constructor(
    private readonly file: string,
    private readonly runJob: JobRunner,
    private readonly log: (entry: ScheduleLog) => void,
    private readonly debounceMs = 300,
  ) {}

  /** Loads the config; throws the problems when the first one is already invalid. */
  async start(): Promise<void> {
    const loaded = await this.load();
    if ('problems' in loaded) throw Object.assign(new Error('invalid config'), { problems: loaded.problems });
    this.current = loaded;
    for (const job of loaded.jobs.values()) this.schedule(job);
    this.log({ type: 'schedule.start', file: this.file, jobs: [...loaded.jobs.values()].map((j) => ({ name: j.name, schedule: j.schedule, next: this.next(j.name) })) });
    this.watcher = watch(this.watchedPaths(), { ignoreInitial: true });
    this.watcher.on('all', () => {
      clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => void this.reload(), this.debounceMs);
    });
    await new Promise<void>((resolve) => this.watcher!.once('ready', resolve));
  }

  /** Stop firing, abort the runs in progress (their post-steps run) and wait for them. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.reloadTimer);
    for (const cron of this.crons.values()) cron.stop();
    this.crons.clear();
    await this.watcher?.close();
    this.abort.abort(reason);
    await Promise.all(this.running.values());
    this.log({ type: 'schedule.stop', message: reason });
  }

  private next(name: string): string | undefined {
    return this.crons.get(name)?.nextRun()?.toISOString();
  }

  private schedule(job: EffectiveJob): void {
    if (!job.schedule) {
      this.log({ type: 'schedule.unscheduled', job: job.name, message: `job '${job.name}' has no schedule; run it with 'lsbackup run --job ${job.name}'` });
      return;
    }
    this.crons.set(job.name, new Cron(job.schedule, { name: `lsbackup:${job.name}` }, () => this.fire(job.name)));
  }

  private fire(name: string): void {
    if (this.stopping) return;
    // No overlap: a run still going means this tick is skipped, not queued.
    if (this.running.has(name)) {
      this.log({ type: 'schedule.skip', job: name, message: `previous run of '${name}' is still running; skipped this tick` });
      return;
    }
    const job = this.current.jobs.get(name);
    const recipes = this.current.recipes.get(name);
    if (!job || !recipes) return;
    this.log({ type: 'schedule.fire', job: name });
    const run = this.runJob(this.current.config, job, recipes, this.abort.signal)
      .then(
        (r) => this.log({ type: 'schedule.done', job: name, status: r.status, exitCode: r.exitCode, archive: r.archive, durationMs: r.durationMs, error: r.error }),
        (e: Error) => this.log({ type: 'schedule.done', job: name, status: 'failed', error: e.message }),
      )
      .finally(() => this.running.delete(name));
    this.running.set(name, run);
  }

  private async reload(): Promise<void> {
    if (this.stopping) return;
    const loaded = await this.load();
    if ('problems' in loaded) {
      this.log({
        type: 'schedule.invalid',
        file: this.file,
        problems: loaded.problems.map(formatProblem),
        message: 'the change is not applied; the previous configuration keeps running',
      });
      return;
    }
    const before = this.current.jobs;
    this.current = loaded;
    for (const [name, old] of before) {
      const now = loaded.jobs.get(name);
      if (now && now.schedule === old.schedule) continue;
      this.crons.get(name)?.stop();
      this.crons.delete(name);
      if (!now) this.log({ type: 'schedule.job', change: 'removed', job: name });
    }
    for (const [name, job] of loaded.jobs) {
      const old = before.get(name);
      if (old && old.schedule === job.schedule) continue;
      this.schedule(job);
      if (job.schedule) this.log({ type: 'schedule.job', change: old ? 'rescheduled' : 'added', job: name, schedule: job.schedule, next: this.next(name) });
    }
    this.watcher?.add(this.watchedPaths());
    this.log({ type: 'schedule.reload', file: this.file, jobs: [...loaded.jobs.keys()] });
  }

  /** The config file and every recipe path any job uses. */
  private watchedPaths(): string[] {
    return [this.file, ...new Set([...this.current.jobs.values()].flatMap(recipePaths))];
  }

  /** Config and recipes together: the whole set is accepted, or none of it. */
  private async load(): Promise<Loaded | { problems: Problem[] }> {
    const text = await readFile(this.file, 'utf8').catch((e: NodeJS.ErrnoException) => e);
    if (text instanceof Error) return { problems: [{ file: this.file, message: `cannot read: ${text.code ?? text.message}` }] };
    const { config, problems } = checkConfigText(this.file, text);
    if (!config) return { problems };
    const jobs = new Map(effectiveJobs(config).map((j) => [j.name, j]));
    const recipes = new Map<string, LoadedRecipe[]>();
    const byPaths = new Map<string, Promise<Awaited<ReturnType<typeof validateRecipes>>>>();
    const recipeProblems: Problem[] = [];
    for (const job of jobs.values()) {
      const key = JSON.stringify(recipePaths(job));
      if (!byPaths.has(key)) byPaths.set(key, validateRecipes(recipePaths(job)));
      const result = await byPaths.get(key)!;
      if (result.problems.length) recipeProblems.push(...result.problems);
      recipes.set(job.name, result.recipes);
    }
    if (recipeProblems.length) return { problems: [...new Map(recipeProblems.map((p) => [formatProblem(p), p])).values()] };
    return { config, jobs, recipes };
  }
}
