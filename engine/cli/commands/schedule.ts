import { ExitCode, invalid, LsError, type Problem } from '../../errors.js';
import { findConfigFile } from '../../config/load.js';
import { runJob } from '../../jobs/run-job.js';
import { Scheduler, type ScheduleLog } from '../../schedule/scheduler.js';
import { createReporter } from '../../report/reporters.js';
import { redactor } from '../../secrets/index.js';

export interface ScheduleOptions {
  config?: string;
  json?: boolean;
}

/**
 * `lsbackup schedule`: runs every job on its cron until SIGTERM/SIGINT, following edits of the
 * config and recipes. The first signal stops firing, lets running jobs run their post-steps
 * and notifications, then exits; a second one exits at once.
 */
export async function scheduleCommand(options: ScheduleOptions): Promise<number> {
  const file = findConfigFile(options.config);
  if (!file) throw new LsError('EUSAGE', { message: 'no config: pass --config <file>, or run where ./lsbackup.config.yaml exists' });
  const log = (entry: ScheduleLog) => {
    const line = options.json ? JSON.stringify({ time: new Date().toISOString(), ...entry }) : `${new Date().toISOString()} ${describe(entry)}`;
    (options.json ? process.stdout : process.stderr).write(redactor.redact(line) + '\n');
  };
  const reporter = await createReporter(options.json ? 'json' : 'plain', redactor);
  const scheduler = new Scheduler(file, (config, job, recipes, signal) => runJob(config, job, { reporter, signal, recipes }), log);
  try {
    await scheduler.start();
  } catch (e) {
    const problems = (e as { problems?: Problem[] }).problems;
    if (problems) throw invalid('Config', problems);
    throw e;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.once(sig, () => process.exit(130));
      void scheduler.stop(`${sig} received`).then(resolve);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  reporter.close();
  return ExitCode.ok;
}

function describe(e: ScheduleLog): string {
  switch (e.type) {
    case 'schedule.start':
      return `scheduler started with ${e.file}: ${e.jobs.map((j) => `${j.name} (${j.schedule ?? 'no schedule'}${j.next ? `, next ${j.next}` : ''})`).join(', ')}`;
    case 'schedule.job':
      return `job ${e.job} ${e.change}${e.schedule ? `: ${e.schedule}` : ''}${e.next ? `, next ${e.next}` : ''}`;
    case 'schedule.unscheduled':
    case 'schedule.skip':
    case 'schedule.stop':
      return e.message;
    case 'schedule.fire':
      return `job ${e.job}: starting`;
    case 'schedule.done':
      return `job ${e.job}: ${e.status}${e.archive ? ` -> ${e.archive}` : ''}${e.error ? `: ${e.error}` : ''}`;
    case 'schedule.reload':
      return `configuration reloaded from ${e.file}: jobs ${e.jobs.join(', ')}`;
    case 'schedule.invalid':
      return `configuration change rejected (${e.message}):\n${e.problems.map((p) => `  ${p}`).join('\n')}`;
  }
}
