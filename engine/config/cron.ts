import { Cron } from 'croner';
import type { Problem } from '../errors.js';
import { positionOf, type YamlSource } from '../schema/index.js';

/** Checks a cron expression the way the scheduler will read it; undefined when it is valid. */
export function cronProblem(expression: string): string | undefined {
  // croner also takes a date ('2027-01-01T02:00:00'): it fires once, and the job never again.
  if (expression.includes(':')) return 'it is a date (a job runs on a recurring cron timetable; a date would run it once, then never again)';
  let cron: Cron;
  try {
    cron = new Cron(expression, { paused: true });
  } catch (e) {
    return (e as Error).message.replace(/^CronPattern: /, '').replace(/\.$/, '');
  }
  // A pattern no date matches ('0 2 30 2 *') is read, and the scheduler would wait for it forever.
  const next = cron.nextRun();
  cron.stop();
  return next === null ? 'it never fires (no date matches it)' : undefined;
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
