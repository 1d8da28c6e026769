import { createInterface } from 'node:readline/promises';
import { loadRunConfig } from '../../app/config.js';
import { openCommandRun } from '../../app/context.js';
import { showsResult } from '../../app/reporter.js';
import { prepareRestore, type RestoreFlags } from '../../app/restore.js';
import type { Redactor } from '../../secrets/types.js';
import { printJsonEvents } from '../../report/json-lines.js';

export type RestoreCommandOptions = RestoreFlags;

/** `lsbackup restore <backup> -b <build>`. Returns the exit code. */
export async function restoreCommand(backup: string, options: RestoreCommandOptions, redactor: Redactor): Promise<number> {
  const config = await loadRunConfig(options);
  const restore = await prepareRestore(backup, options, config, redactor);
  const run = await openCommandRun(options.json, redactor);
  try {
    const result = await restore.run(run, async (planText) => {
      // A prompt needs its plan; confirmed by --yes, the plan is a success's detail (-q leaves it out).
      if (showsResult(!options.yes)) process.stderr.write(redactor.redact(planText) + '\n');
      if (options.yes) return true;
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return /^y(es)?$/i.test((await rl.question('Restore now? This overwrites data on the hosts above. [y/N] ')).trim());
      } finally {
        rl.close();
      }
    });
    if (result.status === 'dry-run' && options.json) {
      printJsonEvents(result.planEvents ?? [], redactor);
    } else if (result.status === 'dry-run') {
      process.stdout.write(redactor.redact(result.planText) + '\nDry run: the checks above passed; no host was touched.\n');
    } else if (result.status === 'cancelled') {
      process.stderr.write('Restore cancelled; no host was touched.\n');
    }
    return result.exitCode;
  } finally {
    run.close();
  }
}
