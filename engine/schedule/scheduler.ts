import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { checkConfigText, type Config } from '../config/load.js';
import { formatProblem, type Problem } from '../errors.js';
import { effectiveJobs, type EffectiveJob } from '../jobs/resolve.js';
import type { RunReport } from '../jobs/report.js';
import { checkJobs } from '../jobs/check.js';
import type { Redactor } from '../secrets/types.js';
import type { LoadedRecipe } from '../recipes/types.js';
import { bundledRecipesDir } from '../paths.js';
import { Timetable } from './timetable.js';
import { realPath } from '../lock/index.js';

import type { ScheduleLog } from '../shapes/events.generated.js';

/** One structured log line of the scheduler: schemas/events.schema.json's `schedule.*` events (docs/json.md). */
export type { ScheduleLog };

export type ReloadTrigger = 'file change' | 'SIGHUP';

/** What the scheduler tells a run besides its job: how many of its ticks were skipped so far. */
export interface RunContext {
  signal: AbortSignal;
  skippedTicks: () => number;
}

export type JobRunner = (config: Config, job: EffectiveJob, recipes: LoadedRecipe[], context: RunContext) => Promise<RunReport>;

interface Loaded {
  config: Config;
  jobs: Map<string, EffectiveJob>;
  /** Recipes per job, validated when the config was accepted: runs use this set, not the disk. */
  recipes: Map<string, LoadedRecipe[]>;
}

const recipePaths = (job: EffectiveJob) => job.recipes ?? [bundledRecipesDir];

/**
 * What a run holds locks on: its cluster (by name and by build, i.e. the hosts) and each target.
 * Two jobs sharing any of these would collide on a lock of this very process: they queue.
 */
const resourcesOf = (job: EffectiveJob): string[] => [
  ...(job.cluster ? [`cluster ${job.cluster}`] : []),
  // As the locks name them: a build dir or target directory reached through a link is the same one
  // (was: both jobs started at once, the later waiting on the lock unsaid, its time counted as its run's).
  `build ${realPath(job.build ?? '')}`,
  ...job.targets.map((t) => `target ${realPath(t.uri)}`),
];
const shareResources = (a: EffectiveJob, b: EffectiveJob) => resourcesOf(a).some((r) => resourcesOf(b).includes(r));

/**
 * Runs each job on its cron, one run per job at a time, and follows edits of the config and
 * the recipes: a valid change is applied at once, an invalid one is logged (file:line:col) and
 * the last valid set keeps running. Jobs of one cluster (or one target) run one after another:
 * a job whose tick comes while another holds its cluster waits in a queue.
 */
export class Scheduler {
  private current!: Loaded;
  private readonly timetable = new Timetable(
    (name) => this.fire(name),
    (byMs, jobs) => this.rescheduledAfterSetBack(byMs, jobs),
  );
  /** Job name -> the job as it was started, and its run. */
  private readonly running = new Map<string, { job: EffectiveJob; run: Promise<void> }>();
  /** Jobs whose tick came while a job sharing their cluster or a target ran; FIFO. */
  private readonly queue: string[] = [];
  /** Ticks skipped per job since its last run ended (reported with that run). */
  private readonly skipped = new Map<string, number>();
  private readonly abort = new AbortController();
  private watchers: FSWatcher[] = [];
  private recipeWatcher?: FSWatcher;
  /** The recipe paths (absolute) whose changes reload; the rest of their parent directories is ignored. */
  private readonly watchedRecipePaths = new Set<string>();
  private reloadTimer?: NodeJS.Timeout;
  /** The reload in progress: one at a time, so a slow check of an older file never lands over a newer one. */
  private reloading?: Promise<void>;
  /** A reload asked for while one ran or the scheduler was starting: done once it is free, reading the file as it is then. */
  private reloadWanted?: ReloadTrigger;
  private stopping = false;
  /** Jobs scheduled: a reload asked for before that (an edit or SIGHUP during start-up) waits for it. */
  private started = false;

  constructor(
    private readonly file: string,
    private readonly runJob: JobRunner,
    private readonly log: (entry: ScheduleLog) => void,
    /** Joined by the secrets a check of the jobs resolves (target credentials), so the log masks them. */
    private readonly redactor: Redactor,
    private readonly debounceMs = 300,
  ) {}

  /** Loads the config; throws the problems when the first one is already invalid. */
  async start(): Promise<void> {
    // The config is watched through its directory: a watch on the file itself is lost when the
    // file is removed and created again (rm + cp, some editors), and later edits went unseen.
    // Watched before it is read: an edit saved while the first load checks the jobs is applied
    // once the scheduler runs (it went unseen, and the scheduler ran the file as it was before).
    const dir = path.dirname(this.file);
    const configWatcher = this.followed(watch(dir, { ignoreInitial: true, depth: 0, ignored: (p) => p !== dir && p !== this.file }));
    this.watchers = [configWatcher];
    await ready(configWatcher);
    const loaded = await this.load();
    if ('problems' in loaded) {
      await this.closeWatchers();
      throw Object.assign(new Error('invalid config'), { problems: loaded.problems });
    }
    this.current = loaded;
    // The recipes the same way, for the same reason: a deploy replacing the recipes directory
    // (rm -r + cp -r) ended the watch on it, and every later recipe edit went unseen.
    this.recipeWatcher = this.followed(
      watch(this.watchRecipePaths(this.recipePathsInUse()), {
        ignoreInitial: true,
        ignored: (p) => !this.watchedRecipePaths.has(p) && ![...this.watchedRecipePaths].some((r) => p.startsWith(r + path.sep) || path.dirname(r) === p),
      }),
    );
    this.watchers.push(this.recipeWatcher);
    await ready(this.recipeWatcher);
    // Firing starts, and is said, once the watchers are ready: from here on every edit is seen.
    for (const job of loaded.jobs.values()) this.schedule(job);
    this.started = true;
    this.log({
      type: 'schedule.start',
      file: this.file,
      jobs: [...loaded.jobs.values()].map((j) => ({ name: j.name, schedule: j.schedule, next: this.next(j.name) })),
    });
    this.reloadIfWanted();
  }

  /** A change seen by a watcher reloads, once the saves of one edit are over. */
  private followed(watcher: FSWatcher): FSWatcher {
    watcher.on('all', () => {
      clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => void this.reload('file change'), this.debounceMs);
    });
    return watcher;
  }

  private async closeWatchers(): Promise<void> {
    clearTimeout(this.reloadTimer);
    await Promise.all(this.watchers.map((w) => w.close()));
  }

  /** Stop firing, abort the runs in progress (their post-steps run) and wait for them. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.timetable.stop();
    await this.closeWatchers();
    for (const name of this.queue.splice(0)) this.skipTick(name, `'${name}' was waiting in the queue; not started: ${reason}`);
    this.abort.abort(reason);
    await Promise.all([...this.running.values()].map((r) => r.run));
    this.log({ type: 'schedule.stop', message: reason });
  }

  private next(name: string): string | undefined {
    return this.timetable.next(name);
  }

  private schedule(job: EffectiveJob): void {
    if (!job.schedule) {
      this.log({ type: 'schedule.unscheduled', job: job.name, message: `job '${job.name}' has no schedule; run it with 'lsbackup run --job ${job.name}'` });
      return;
    }
    this.timetable.set(job.name, job.schedule);
  }

  private rescheduledAfterSetBack(byMs: number, jobs: string[]): void {
    const by = byMs >= 3600_000 ? `${Math.round(byMs / 360_000) / 10} h` : `${Math.round(byMs / 60_000)} min`;
    for (const name of jobs) {
      const schedule = this.current.jobs.get(name)?.schedule;
      const message = `the clock was set back by ${by}: job '${name}' is rescheduled from the new time`;
      this.log({ type: 'schedule.job', change: 'rescheduled', job: name, schedule, next: this.next(name), message });
    }
  }

  private fire(name: string): void {
    if (this.stopping) return;
    // No overlap: a run still going (or still queued) means this tick is skipped, not queued again.
    if (this.running.has(name) || this.queue.includes(name)) {
      const state = this.running.has(name) ? 'running' : 'waiting in the queue';
      this.skipTick(name, `previous run of '${name}' is still ${state}; skipped this tick`);
      return;
    }
    const job = this.current.jobs.get(name);
    if (!job) return;
    const blockers = this.blockersOf(job, this.queue);
    if (blockers.length > 0) {
      this.queue.push(name);
      this.log({
        type: 'schedule.queued',
        job: name,
        ...clusterOf(job),
        after: blockers,
        message: `job '${name}' waits for ${blockers.map((b) => `'${b}'`).join(', ')} (same cluster or target)`,
      });
      return;
    }
    this.launch(job);
  }

  private skipTick(name: string, message: string): void {
    const skippedTicks = (this.skipped.get(name) ?? 0) + 1;
    this.skipped.set(name, skippedTicks);
    this.log({ type: 'schedule.skip', job: name, skippedTicks, message });
  }

  /** Running jobs, then queued jobs ahead of it, that share a cluster or target with job. */
  private blockersOf(job: EffectiveJob, queuedAhead: string[] = []): string[] {
    const running = [...this.running.values()].map((r) => r.job);
    const ahead = queuedAhead.map((n) => this.current.jobs.get(n)).filter((j): j is EffectiveJob => j !== undefined);
    return [...running, ...ahead].filter((other) => other.name !== job.name && shareResources(job, other)).map((j) => j.name);
  }

  private launch(job: EffectiveJob): void {
    const name = job.name;
    const recipes = this.current.recipes.get(name);
    if (!recipes) return;
    this.log({ type: 'schedule.fire', job: name, ...clusterOf(job) });
    const skippedTicks = () => this.skipped.get(name) ?? 0;
    const run = this.runJob(this.current.config, job, recipes, { signal: this.abort.signal, skippedTicks })
      .then(
        (r) =>
          this.log({
            type: 'schedule.done',
            job: name,
            ...clusterOf(r),
            status: r.status,
            exitCode: r.exitCode,
            archive: r.archive,
            backupId: r.backupId,
            durationMs: r.durationMs,
            skippedTicks: r.skippedTicks,
            error: r.error,
          }),
        (e: Error) => this.log({ type: 'schedule.done', job: name, ...clusterOf(job), status: 'failed', error: e.message }),
      )
      .finally(() => {
        this.running.delete(name);
        this.skipped.delete(name);
        this.startQueued();
      });
    this.running.set(name, { job, run });
  }

  /** Starts each queued job, in order, whose cluster and targets are free now. */
  private startQueued(): void {
    if (this.stopping) return;
    for (const name of [...this.queue]) {
      const index = this.queue.indexOf(name);
      const job = this.current.jobs.get(name);
      if (!job) {
        this.queue.splice(index, 1); // removed from the config while it waited
        continue;
      }
      if (this.blockersOf(job, this.queue.slice(0, index)).length > 0) continue;
      this.queue.splice(index, 1);
      this.launch(job);
    }
  }

  /**
   * Reads the config and recipes again (a file changed, or SIGHUP). One reload at a time, in the
   * order asked: a reload still checking an older file (a slow secret command, a target) applied
   * it over the newer one a later reload had applied, and the scheduler ran the older file for good.
   */
  reload(trigger: ReloadTrigger): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (!this.started || this.reloading) {
      if (!this.reloadWanted) {
        const after = this.started ? 'the reload in progress (checking the jobs)' : 'the start-up (checking the jobs)';
        this.log({
          type: 'schedule.reload.pending',
          file: this.file,
          trigger,
          message: `reload (${trigger}) waits for ${after}; it reads the file as it is then`,
        });
      }
      this.reloadWanted = trigger;
      return this.reloading ?? Promise.resolve();
    }
    this.reloading = this.reloadNow(trigger).finally(() => {
      this.reloading = undefined;
      this.reloadIfWanted();
    });
    return this.reloading;
  }

  private reloadIfWanted(): void {
    const wanted = this.reloadWanted;
    this.reloadWanted = undefined;
    if (wanted) void this.reload(wanted);
  }

  private async reloadNow(trigger: ReloadTrigger): Promise<void> {
    const loaded = await this.load();
    if (this.stopping) return;
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
      this.timetable.delete(name);
      if (!now) this.log({ type: 'schedule.job', change: 'removed', job: name });
    }
    for (const [name, job] of loaded.jobs) {
      const old = before.get(name);
      if (old && old.schedule === job.schedule) continue;
      this.schedule(job);
      if (job.schedule) this.log({ type: 'schedule.job', change: old ? 'rescheduled' : 'added', job: name, schedule: job.schedule, next: this.next(name) });
    }
    this.recipeWatcher?.add(this.watchRecipePaths(this.recipePathsInUse()));
    this.log({ type: 'schedule.reload', file: this.file, trigger, jobs: [...loaded.jobs.keys()] });
  }

  /** Records recipe paths to follow; returns the directories to watch them through: their parents. */
  private watchRecipePaths(paths: string[]): string[] {
    for (const p of paths) this.watchedRecipePaths.add(path.resolve(p));
    return [...new Set(paths.map((p) => path.dirname(path.resolve(p))))];
  }

  /** Every recipe path any job uses. */
  private recipePathsInUse(): string[] {
    return [...new Set([...this.current.jobs.values()].flatMap(recipePaths))];
  }

  /**
   * Config and recipes together: the whole set is accepted, or none of it. Each job is checked as
   * `run` checks it before any work (engine/jobs/check.ts): a job that could only fail at every
   * tick is refused now, not found out at 02:00.
   */
  private async load(): Promise<Loaded | { problems: Problem[] }> {
    const text = await readFile(this.file, 'utf8').catch((e: NodeJS.ErrnoException) => e);
    if (text instanceof Error) return { problems: [{ file: this.file, message: `cannot read: ${text.code ?? text.message}` }] };
    const { config, problems, source } = checkConfigText(this.file, text);
    if (!config) return { problems };
    const jobs = new Map(effectiveJobs(config).map((j) => [j.name, j]));
    const checked = await checkJobs(config, this.redactor, source);
    if (checked.problems.length) return { problems: checked.problems };
    return { config, jobs, recipes: checked.recipes };
  }
}

const ready = (watcher: FSWatcher) => new Promise<void>((resolve) => watcher.once('ready', resolve));

/** The cluster a job's lines name, when it is known (a job without `cluster` learns it from its build directory). */
function clusterOf(job: { cluster?: string }): { cluster?: string } {
  return job.cluster ? { cluster: job.cluster } : {};
}
