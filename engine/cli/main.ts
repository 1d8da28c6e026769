#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isLsError, ExitCode } from '../errors.js';
import { redactor } from '../secrets/index.js';
import { lsbackupVersion } from '../version.js';
import { applyCommand, type ApplyOptions } from './commands/apply.js';
import { planCommand } from './commands/plan.js';
import { validateCommand } from './commands/validate.js';
import { restoreCommand } from './commands/restore.js';

const list = (value: string, previous: string[] = []) => [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
const repeat = (value: string, previous: string[] = []) => [...previous, value];
const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
};

const nonNegativeInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number of at least 0');
  return n;
};

/** Options shared by every command that reads a cluster. */
function clusterOptions(cmd: Command): Command {
  return cmd
    .option('-b, --build <path>', 'build directory holding the Ansible inventory, or the inventory file itself')
    .option('-c, --config <file>', 'config file (default: ./lsbackup.config.yaml when it exists)')
    .option('--only <components>', 'only these components (comma-separated recipe names)', list)
    .option('--skip <components>', 'skip these components (comma-separated)', list)
    .option('--var <component.name=value>', 'override a recipe variable (repeatable)', repeat)
    .option('--cluster <name>', 'cluster name used in backup names (default: the build directory name)')
    .option('--json', 'machine-readable output: one JSON event per line');
}

/** How hosts are reached (backup and restore). */
function connectionOptions(cmd: Command): Command {
  return cmd
    .option('--trust-new-host-keys', 'record the keys of hosts not yet in known_hosts instead of refusing them (trust on first use)')
    .option('--connect-timeout <seconds>', 'SSH connect timeout (default 10)', positiveInt)
    .option('--concurrency <n>', 'hosts working at once (default 16)', positiveInt)
    .option('--step-timeout <seconds>', 'default timeout of one recipe step (default 3600)', positiveInt)
    .option('--lock-wait <seconds>', 'wait this long for another run holding the cluster or target lock (default 0: fail at once)', nonNegativeInt);
}

function backupOptions(cmd: Command): Command {
  return connectionOptions(clusterOptions(cmd))
    .option('-t, --target <uri>', 'where to store the backup: a directory, file://, nfs://, s3://bucket/prefix, azfile://account/share/dir (repeatable)', repeat)
    .addOption(new Option('-f, --format <format>', 'archive format').choices(['tar.gz', 'tar.zst', 'zip']));
}

export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('lsbackup')
    .description(
      'Back up and restore clusters deployed with Ansible (LambdaStack), driven by declarative YAML recipes.\n\n' +
        'Exit codes: 0 success; 2 partial (some component or host failed; the archive is kept and marked partial); ' +
        '1 failed (nothing usable); 64 usage error; 78 config or recipe error (nothing was run).',
    )
    .version(lsbackupVersion, '-V, --version')
    .enablePositionalOptions()
    // Set before subcommands are added: they inherit it, so their usage errors exit 64 too.
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  lsbackup -b ./build/mycluster -t /backups              back up with the bundled recipes\n' +
        '  lsbackup apply recipes/ -b ./build/mycluster -t ./backups --only postgresql,haproxy\n' +
        '  lsbackup plan -b ./build/mycluster                     what would run where (runs nothing)\n' +
        '  lsbackup validate my-recipes/                          check recipes, every problem at once\n' +
        '  lsbackup apply                                         use ./lsbackup.config.yaml',
    );

  // The seed form: `lsbackup -b <build> -t <target>` is `apply` with the bundled recipes.
  // Options given before a subcommand (`lsbackup -c f apply`) reach it through optsWithGlobals().
  backupOptions(program).action(async (options: ApplyOptions) => {
    if (!options.build && !options.target && !options.config) {
      program.help({ error: false });
    }
    setExitCode(await applyCommand([], options));
  });

  backupOptions(
    program
      .command('apply')
      .description('back up the cluster: run every matching recipe on its hosts and store one archive')
      .argument('[recipes...]', 'recipe files or directories (default: config `recipes`, else the bundled recipes)'),
  ).action(async (recipes: string[], _o, cmd: Command) => setExitCode(await applyCommand(recipes, cmd.optsWithGlobals<ApplyOptions>())));

  clusterOptions(
    program
      .command('plan')
      .description('show what a backup would run where, with every command rendered and secrets masked; runs nothing')
      .argument('[recipes...]', 'recipe files or directories')
      .option('--restore', 'show the restore plan instead of the backup plan')
      .option('--step-timeout <seconds>', 'default timeout of one recipe step', positiveInt),
  ).action(async (recipes: string[], _o, cmd: Command) => setExitCode(await planCommand(recipes, cmd.optsWithGlobals())));

  connectionOptions(
    clusterOptions(
      program
        .command('restore')
        .description(
          'restore a backup onto the hosts of a build directory: verifies every entry first, shows the plan, asks, ' +
            'then runs each recipe\'s restore steps (post-steps always run)',
        )
        .argument('<backup>', 'an archive file, or the name of a backup in the target given with -t'),
    ),
  )
    .option('-t, --target <uri>', 'the target holding <backup> (default: the first target of the config)')
    .option('--host-map <old=new>', 'restore the data of host old onto host new (repeatable); by default hosts map by name, then by position in their group', repeat)
    .option('--recipes <paths>', 'installed recipes for --allow-recipe-upgrade (comma-separated; default: bundled)', list)
    .option('--allow-recipe-upgrade', 'use the newest installed recipe instead of the one that made the backup')
    .option('--staging-dir <dir>', 'where archive data is staged while restoring (default: the OS temp dir)')
    .option('--dry-run', 'verify the backup and show the restore plan; touch no host')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (backup: string, _o, cmd: Command) => setExitCode(await restoreCommand(backup, cmd.optsWithGlobals())));

  program
    .command('validate')
    .description('validate recipes: schema, YAML syntax, template references; reports every problem as file:line:col')
    .argument('[paths...]', 'recipe files or directories (default: the bundled recipes)')
    .option('--json', 'machine-readable result')
    .action(async (paths: string[], options) => setExitCode(await validateCommand(paths, options)));

  return program;
}

// `lsbackup plan | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

async function main(argv: string[]): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = buildProgram((code) => (exitCode = code));
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return ExitCode.usage;
    }
    if (isLsError(e)) {
      process.stderr.write(`lsbackup: ${redactor.redact(e.message)}\n`);
      return e.exitCode;
    }
    // Not in the catalogue: a bug. Show the stack so it can be reported.
    process.stderr.write(`lsbackup: unexpected error (please report):\n${redactor.redact((e as Error).stack ?? String(e))}\n`);
    return ExitCode.failed;
  }
}

const code = await main(process.argv);
process.exitCode = code;
// Exit once output is flushed even if a stray handle (a half-closed connection) would keep Node alive.
setTimeout(() => process.exit(code), 500).unref();
