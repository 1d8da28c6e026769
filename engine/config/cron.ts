import { Cron } from 'croner';
import type { Problem } from '../errors.js';
import { positionOf, type YamlSource } from '../schema/index.js';

/** Checks a cron expression the way the scheduler will read it; undefined when it is valid. */
export function cronProblem(expression: string): string | undefined {
  try {
    new Cron(expression, { paused: true }).stop();
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/^CronPattern: /, '').replace(/\.$/, '');
  }
}

/** Every job's `schedule`, checked at load time so a typo is found before the night it should run. */
export function scheduleProblems(source: YamlSource): Problem[] {
  // Read from the document, not the validated value: a bad schedule is reported with the schema's problems.
  const jobs = (source.doc.toJS() as { jobs?: unknown } | null)?.jobs;
  if (typeof jobs !== 'object' || jobs === null) return [];
  return Object.entries(jobs as Record<string, { schedule?: unknown } | null>).flatMap(([name, job]) => {
    if (typeof job?.schedule !== 'string') return [];
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
