import { Cron } from 'croner';
import type { Problem } from '../errors.js';
import { positionOf, type YamlSource } from '../schema/index.js';

/** Checks a cron expression the way the scheduler will read it; undefined when it is valid. */
export function cronProblem(expression: string): string | undefined {
  try {
    new Cron(expression, { paused: true }).stop();
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/^CronPattern: /, '');
  }
}

/** Every job's `schedule`, checked at load time so a typo is found before the night it should run. */
export function scheduleProblems(source: YamlSource, jobs: Record<string, { schedule?: string }> | undefined): Problem[] {
  return Object.entries(jobs ?? {}).flatMap(([name, job]) => {
    if (job.schedule === undefined) return [];
    const why = cronProblem(job.schedule);
    if (!why) return [];
    return [
      {
        file: source.file,
        ...positionOf(source, ['jobs', name, 'schedule']),
        message: `'jobs.${name}.schedule' '${job.schedule}' is not a valid cron expression: ${why}`,
        hint: "for example '0 2 * * *' (02:00 every day) or '*/30 * * * * *' (every 30 seconds)",
      },
    ];
  });
}
