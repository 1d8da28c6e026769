import { Cron } from 'croner';

/** A clock set back by more than this is a correction, and the jobs are rescheduled from the new time (cron(8) does the same). */
export const CLOCK_SET_BACK_MS = 3 * 3600_000;
/** How often the clock is compared with the machine's monotonic time. */
export const CLOCK_CHECK_MS = 30_000;

/**
 * The jobs' crons. croner waits for the time of a job's last tick to come round again, so a
 * clock set back by a day (NTP correcting a wrong hardware clock) left every job silent for that
 * day, without a word. A step back of more than CLOCK_SET_BACK_MS reschedules every job from the
 * new time; a smaller one (ticks that already ran would come again) is left to croner: they are
 * not run twice.
 */
export class Timetable {
  private readonly crons = new Map<string, { expression: string; cron: Cron }>();
  private readonly clockCheck: NodeJS.Timeout;
  /** Wall clock minus monotonic time: it changes only when the clock is set. */
  private clockOffset = clockOffset();

  constructor(
    private readonly fire: (name: string) => void,
    /** The clock was set back: every job was rescheduled from the new time. */
    private readonly onSetBack: (byMs: number, jobs: string[]) => void,
  ) {
    this.clockCheck = setInterval(() => this.checkClock(), CLOCK_CHECK_MS);
    this.clockCheck.unref();
  }

  set(name: string, expression: string): void {
    this.delete(name);
    this.crons.set(name, { expression, cron: new Cron(expression, { name: `lsbackup:${name}` }, () => this.fire(name)) });
  }

  delete(name: string): void {
    this.crons.get(name)?.cron.stop();
    this.crons.delete(name);
  }

  /** When the job fires next (ISO time), if it is scheduled. */
  next(name: string): string | undefined {
    return this.crons.get(name)?.cron.nextRun()?.toISOString();
  }

  stop(): void {
    clearInterval(this.clockCheck);
    for (const name of [...this.crons.keys()]) this.delete(name);
  }

  private checkClock(): void {
    const offset = clockOffset();
    const setBackMs = this.clockOffset - offset;
    this.clockOffset = offset;
    if (setBackMs <= CLOCK_SET_BACK_MS || this.crons.size === 0) return;
    const jobs = [...this.crons.entries()].map(([name, { expression }]) => [name, expression] as const);
    for (const [name, expression] of jobs) this.set(name, expression);
    this.onSetBack(
      setBackMs,
      jobs.map(([name]) => name),
    );
  }
}

const clockOffset = () => Date.now() - performance.now();
