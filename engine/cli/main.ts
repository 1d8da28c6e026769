import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isLsError, ExitCode, LsError } from '../errors.js';
import { errorEvent, printJsonEvents } from '../report/json-lines.js';
import type { Redactor } from '../secrets/types.js';
import { visibleControls } from '../report/format.js';
import { RUN_DEFAULTS } from '../config/defaults.js';
import { lsbackupVersion } from '../version.js';
// Command modules are imported when their command runs (see the actions below): `apply` does
// not pay for the modules of restore, schedule, the catalog or age encryption.
import type { ApplyOptions } from './commands/apply.js';
import type { PruneOptions } from './commands/prune.js';
import type { CatalogOptions } from '../app/catalog.js';
import { COMPRESS_MODES } from '../runner/transport.js';
import { DEFAULT_REPORT_HISTORY, REPORT_FORMATS } from '../report/report-formats.js';
import { MAX_STEP_TIMEOUT_SEC } from '../runner/step-timeout.js';
import { processFaulted } from '../app/process-guard.js';
import { parseWithin } from '../catalog/retention.js';
import { configSearchPath, discoverConfig } from '../config/discover.js';
import { addHelpExamples } from './help-examples.js';
import { addOutputLevelOptions } from './output-level-options.js';
import { refuseEmptyValues } from './empty-values.js';
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from './completion.js';
import { rejectUnknownCommand } from './unknown-command.js';

// A blank value passes these parsers untouched: ./empty-values.ts refuses it for every option alike.

/** --only/--skip: comma-separated names; a value naming none (',') would silently mean "all". */
const list = (value: string, previous: string[] = []) => {
  if (value.trim() === '') return [...previous, value];
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError('names no component: give one or more comma-separated component names');
  return [...previous, ...names];
};

/** --encrypt-to: the shape the config's encryption.recipients takes (age checks the key itself when the run starts). */
const ageRecipient = (value: string, previous: string[] = []) => {
  if (value.trim() !== '' && !/^age1[0-9a-z]+$/.test(value.trim()))
    throw new InvalidArgumentError('is not an age public key (age1..., as age-keygen prints it)');
  return [...previous, value];
};
const repeat = (value: string, previous: string[] = []) => [...previous, value];
const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
};

/** --keep-within: the interval format the config's retention.keepWithin takes. */
const withinInterval = (value: string) => {
  if (parseWithin(value) === undefined) throw new InvalidArgumentError('must be a number and a unit h, d, w, m or y, e.g. 7d');
  return value;
};

/** --step-timeout: whole seconds, no longer than a Node.js timer can wait. */
const stepTimeoutSec = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_STEP_TIMEOUT_SEC) {
    throw new InvalidArgumentError(`must be a whole number of seconds from 1 to ${MAX_STEP_TIMEOUT_SEC} (about 24 days, the longest timer Node.js can set)`);
  }
  return n;
};

const nonNegativeInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number of at least 0');
  return n;
};

/** --report / --report-format / --report-history of `apply` and `run` (engine/app/report-file.ts). */
function reportOptions(cmd: Command): Command {
  return cmd
    .option(
      '--report <file>',
      'also write the run report (status, targets, component × host results, durations), atomically, also when the run fails or is partial',
    )
    .addOption(
      new Option(
        '--report-format <format>',
        'json (default): the run report as data; junit: JUnit XML for CI test views; html: one self-contained page for people',
      ).choices(REPORT_FORMATS),
    )
    .option(
      '--report-history <n>',
      `backups of the cluster the html report charts, read from the target's catalog (default: ${DEFAULT_REPORT_HISTORY})`,
      positiveInt,
    );
}

const METRICS_TEXTFILE_HELP =
  "record this run's Prometheus metrics in this file, for node_exporter's textfile collector (name it *.prom; replaced atomically, counters carried over from the file)";

/** Options shared by every command that reads a cluster. */
function clusterOptions(cmd: Command): Command {
  return cmd
    .option('-b, --build <path>', 'build directory holding the Ansible inventory, or the inventory file itself')
    .option('-c, --config <file>', 'config file (default: $LSBACKUP_CONFIG, else the first found; see lsbackup --help)')
    .option('--only <components>', 'only these components (comma-separated recipe names)', list)
    .option('--skip <components>', 'skip these components (comma-separated)', list)
    .option('--var <component.name=value>', 'override a recipe variable (repeatable)', repeat)
    .option(
      '--cluster <name>',
      "cluster name used in backup names (default: the config's `cluster` when -b is the config's `build` or not given, else the build directory's name)",
    )
    .option('--json', `machine-readable output: one JSON event per line (${PROGRESS_HELP})`);
}

/** How progress is shown, for the --json help of the commands that move data. */
const PROGRESS_HELP = 'progress events every second while bytes move; every N ms with $LSBACKUP_PROGRESS_INTERVAL_MS';

/** Where SSH keys come from when the inventory's paths are not on this machine (a container): apply, plan, run, restore. */
function sshFileOptions(cmd: Command): Command {
  return cmd
    .option(
      '--known-hosts <file>',
      "the only known_hosts file: hosts not in it are refused, whatever ansible.cfg's host_key_checking or the inventory's StrictHostKeyChecking say (replaces ~/.ssh/known_hosts and the inventory's UserKnownHostsFile)",
    )
    .option('--ssh-key <file>', "private key for every host and jump host, in place of the inventory's ansible_ssh_private_key_file");
}

/** How hosts are reached (backup and restore). */
function connectionOptions(cmd: Command): Command {
  return sshFileOptions(cmd)
    .option('--trust-new-host-keys', 'record the keys of hosts not yet in known_hosts instead of refusing them (trust on first use)')
    .option('--connect-timeout <seconds>', 'SSH connect timeout (default 10)', positiveInt)
    .option('--concurrency <n>', `hosts working at once (default ${RUN_DEFAULTS.concurrency})`, positiveInt)
    .option('--step-timeout <seconds>', `default timeout of one recipe step (default ${RUN_DEFAULTS.stepTimeout})`, stepTimeoutSec)
    .option('--lock-wait <seconds>', 'wait this long for another run holding the cluster or target lock (default 0: fail at once)', nonNegativeInt);
}

/** Where backups live, and the plugin options of those targets. */
function targetOptions(cmd: Command, what: string): Command {
  return cmd
    .option('-t, --target <uri>', `${what}: a directory, file://, nfs://<mounted path>, s3://bucket/prefix, azfile://account/share/dir`, repeat)
    .option(
      '--target-option <key=value>',
      "a target plugin option, e.g. storageClass=STANDARD_IA (repeatable; see the plugin's schema). With several -t it goes to each target whose plugin has that option; one that none has is an error. Not a credential (every local user can read the command line): --target-secret",
      repeat,
    )
    .option(
      '--target-secret <key=SECRET>',
      'a target option whose value is a secret, e.g. secretAccessKey=S3_SECRET (resolved from the secret sources; repeatable; goes to the targets that have it, like --target-option)',
      repeat,
    )
    .option('--s3-endpoint <url>', 'S3-compatible endpoint (MinIO, Ceph, Swift); omit for AWS')
    .option('--s3-region <region>', 'S3 region (default us-east-1)')
    .option('--s3-path-style', 'S3 path-style URLs (most S3-compatible servers need this)');
}

/** The catalog commands: one target, an identity for encrypted backups, --json. */
function catalogOptions(cmd: Command): Command {
  return targetOptions(cmd, 'the target holding the backups (default: the first in the config)')
    .option('-c, --config <file>', 'config file (default: $LSBACKUP_CONFIG, else the first found; see lsbackup --help)')
    .option('--identity <file>', 'age identity file (AGE-SECRET-KEY-1...) to read encrypted backups (default: config encryption.identityFile)')
    .option(
      '--cluster <name>',
      "list and prune: only this cluster's backups (default: all; prune takes each cluster on its own). 'latest': the newest backup of this cluster (default: config `cluster`, else the target's only cluster)",
    )
    .option('--json', 'machine-readable output');
}

/** --compress: where the streams from hosts are compressed (apply, run, plan). */
function compressOption(): Option {
  return new Option(
    '--compress <where>',
    'where streamed output (collect steps, snapshot outputs) is compressed on its way: local (the default: sent as is over SSH) ' +
      'or remote (zstd -1 on each host, decompressed here; the archive is the same). Use remote when the network, not this ' +
      "machine's CPU, is the bottleneck (hosts behind slow or metered links); it needs zstd on the hosts. " +
      'Default: config `compress`; an inventory variable lsbackup_compress=local|remote sets one host and wins',
  ).choices(COMPRESS_MODES);
}

function backupOptions(cmd: Command): Command {
  return targetOptions(connectionOptions(clusterOptions(cmd)), 'where to store the backup (repeatable: a copy in each; one place given twice is an error)')
    .option('--encrypt-to <recipient>', 'encrypt the backup for this age recipient, age1... (repeatable; default: config encryption.recipients)', ageRecipient)
    .option('--plain-metadata', 'keep the <name>.metadata.json sidecar unencrypted (it reveals host names) so `list` shows it without a key')
    .option(
      '--sign-key <file>',
      'sign metadata.json with this unencrypted SSH private key (ssh-keygen -Y sign format, namespace lsbackup; default: config signing.key)',
    )
    .addOption(
      new Option('-f, --format <format>', `archive format (default: config \`format\`, else ${RUN_DEFAULTS.format})`).choices(['tar.gz', 'tar.zst', 'zip']),
    )
    .addOption(compressOption());
}

/** The command line; each action passes the run's redactor to its command (nothing runs at import). */
export function buildProgram(setExitCode: (code: number) => void, redactor: Redactor): Command {
  const program = new Command('lsbackup')
    .description(
      'Back up and restore clusters deployed with Ansible (LambdaStack), driven by declarative YAML recipes.\n\n' +
        'Exit codes: 0 success; 2 partial (some component or host failed; the archive is kept and marked partial); ' +
        '1 failed (nothing usable); 3 recipe test: a stage of the round trip failed; 64 usage error; 78 config or recipe error (nothing was run).',
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
        '  lsbackup apply                                         use ./lsbackup.config.yaml\n' +
        '  lsbackup list -t s3://bucket/prod --s3-endpoint https://minio:9000 --s3-path-style\n' +
        '  lsbackup verify latest -t /backups                     check the newest backup end to end\n' +
        '  lsbackup prune -t /backups --keep-daily 7 --keep-weekly 4 --dry-run\n' +
        '  lsbackup prune -t /backups --cluster prod --job nightly --keep-daily 7',
    );

  // The seed form: `lsbackup -b <build> -t <target>` is `apply` with the bundled recipes.
  // Options given before a subcommand (`lsbackup -c f apply`) reach it through optsWithGlobals().
  backupOptions(program).action(async (options: ApplyOptions) => {
    if (program.args.length > 0) rejectUnknownCommand(program, program.args[0]!);
    if (!options.build && !options.target && !options.config) {
      program.help({ error: false });
    }
    setExitCode(await (await import('./commands/apply.js')).applyCommand([], options, redactor));
  });

  reportOptions(
    backupOptions(
      program
        .command('apply')
        .description('back up the cluster: run every matching recipe on its hosts and store one archive')
        .argument('[recipes...]', 'recipe files or directories (default: config `recipes`, else the bundled recipes)'),
    ),
  )
    .option(
      '--incremental',
      'store only what changed since the newest backup of the cluster in the target that backed up every component this run backs up: each host compares its files with that backup and sends only new and changed ones; unchanged files are references to the backup holding them (docs/incremental.md). A full is made when there is no such backup',
    )
    .addOption(
      new Option(
        '--full',
        'a full backup that later --incremental runs compare with (records the signature of every collected file; a plain apply records none, so the first --incremental after one is a full)',
      ).conflicts('incremental'),
    )
    .option(
      '--identity <file>',
      'age identity file that reads the encrypted metadata of earlier backups, so --incremental can compare with encrypted backups (default: config encryption.identityFile)',
    )
    .option('--metrics-textfile <file>', METRICS_TEXTFILE_HELP)
    .action(async (recipes: string[], _o, cmd: Command) =>
      setExitCode(await (await import('./commands/apply.js')).applyCommand(recipes, cmd.optsWithGlobals<ApplyOptions>(), redactor)),
    );

  clusterOptions(
    sshFileOptions(program.command('plan'))
      .description('show what a backup would run where, with every command rendered and secrets masked; runs nothing')
      .argument('[recipes...]', 'recipe files or directories')
      .option('--restore', 'show the restore plan instead of the backup plan')
      .option('--step-timeout <seconds>', 'default timeout of one recipe step', stepTimeoutSec)
      .option('--watch', 'render again on every save of the recipes, the config or the inventory (Ctrl-C to stop)')
      .addOption(compressOption()),
  ).action(async (recipes: string[], _o, cmd: Command) =>
    setExitCode(await (await import('./commands/plan.js')).planCommand(recipes, cmd.optsWithGlobals(), redactor)),
  );

  targetOptions(
    connectionOptions(
      clusterOptions(
        program
          .command('restore')
          .description(
            'restore a backup onto the hosts of a build directory: verifies every entry first, shows the plan, asks, ' +
              "then runs each recipe's restore steps (post-steps always run)",
          )
          .argument('<backup>', "a backup name in the target (-t, default: the config's first), 'latest', or the path/URI of one archive"),
      ),
    ),
    'the target holding <backup> (default: the first in the config)',
  )
    .option('--identity <file>', 'age identity file to decrypt an encrypted backup (default: config encryption.identityFile)')
    .option(
      '--host-map <old=new>',
      'restore the data of host old onto host new (repeatable); by default hosts map by name, then by position in their group',
      repeat,
    )
    .option(
      '--skip-host <old>',
      "leave the data of backed-up host old out of the restore (repeatable): a replica's, say, when the cluster restored into has fewer hosts",
      repeat,
    )
    .option(
      '--recipes <paths>',
      'installed recipes, run for backups not signed by a trusted key and with --allow-recipe-upgrade (comma-separated; default: config recipes, else bundled)',
      list,
    )
    .option('--allow-recipe-upgrade', 'use the newest installed recipe instead of the one that made the backup')
    .option(
      '--trusted-keys <file>',
      'allowed_signers or .pub file of keys whose signed backups may run the recipes they carry (repeatable; default: config signing.trusted)',
      repeat,
    )
    .option('--trust-carried-recipe', 'run the recipes a backup carries although no trusted key signed it (after reviewing the diff the plan shows)')
    .option(
      '--allow-renamed-cluster',
      'restore a backup whose own metadata names another cluster than its name does (a copy renamed on purpose; refused without it). One of this cluster made at another time than its name says is restored, the plan saying which backup it is',
    )
    .option('--keep-special-modes', 'restore setuid/setgid bits as backed up (by default they are stripped, and the plan lists the files)')
    .option('--staging-dir <dir>', 'where archive data is staged while restoring (default: the OS temp dir)')
    .option(
      '--stream',
      'stage nothing: verify in one pass, then read the backup again from its target for the hosts, handing on each 1 MiB only once it equals what the first pass verified (a backup changed in between fails the restore) (chosen by itself when the staging dir lacks room; not for zip)',
    )
    .option('--dry-run', 'verify the backup and show the restore plan; touch no host')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (backup: string, _o, cmd: Command) =>
      setExitCode(await (await import('./commands/restore.js')).restoreCommand(backup, cmd.optsWithGlobals(), redactor)),
    );

  program
    .command('validate')
    .description(
      'validate recipes: schema, YAML syntax, template references, restore steps reading what no backup step saves; reports every problem as file:line:col',
    )
    .argument('[paths...]', 'recipe files or directories (default: the bundled recipes)')
    .option('--json', 'machine-readable result')
    .option('--watch', 'validate again on every save (debounced); an invalid file is reported, never fatal (Ctrl-C to stop)')
    .option('--shellcheck', 'also lint every rendered command with shellcheck (Debian package shellcheck), findings at the recipe file:line:col')
    .addOption(
      new Option('--shellcheck-severity <level>', 'the least severe shellcheck finding that is reported and fails validate')
        .choices(['error', 'warning', 'info', 'style'])
        .default('warning'),
    )
    .action(async (paths: string[], options) => setExitCode(await (await import('./commands/validate.js')).validateCommand(paths, options, redactor)));

  const recipe = program.command('recipe').description('write and check recipes');
  recipe
    .command('init')
    .description('write a commented recipe skeleton <name>.yaml (every phase explained) that validates and runs as written')
    .argument('<name>', 'component name: a lowercase slug, e.g. my-cache')
    .option('--group <group>', 'inventory group the component lives on (default: the name)')
    .option('-o, --output <dir>', 'directory to write <name>.yaml into, created when missing (default: the current directory)')
    .option('--json', 'machine-readable result')
    .action(async (name: string, options) => setExitCode(await (await import('./commands/recipe.js')).recipeInitCommand(name, options, redactor)));
  connectionOptions(
    targetOptions(
      recipe
        .command('test')
        .description(
          "prove a recipe end to end on a real inventory: validate, seed (the recipe's spec.tests.seed steps), apply (a backup of only " +
            'this component), verify, destroy (spec.tests.destroy), restore, check (spec.tests.check). Each stage is reported; the first ' +
            'that fails stops the test. Exit codes: 0 the round trip held; 3 a stage failed; 78 the recipe is invalid or has no spec.tests; 64 usage error',
        )
        .argument('<recipe>', 'the recipe file to test'),
      'where the test backup goes (default: a temporary local directory, removed afterwards)',
    ),
  )
    .option('-b, --build <path>', 'build directory holding the Ansible inventory, or the inventory file itself')
    .option('-c, --config <file>', 'config file (default: $LSBACKUP_CONFIG, else the first found; see lsbackup --help)')
    .option('--var <component.name=value>', 'override a recipe variable (repeatable)', repeat)
    .option(
      '--cluster <name>',
      "cluster name used in the backup name (default: the config's `cluster` when -b is the config's `build` or not given, else the build directory's name)",
    )
    .option('--keep', 'keep the temporary target directory and say where it is')
    .option('--json', 'machine-readable output: one JSON event per line (stage events for each stage)')
    .action(async (file: string, _o, cmd: Command) =>
      setExitCode(await (await import('./commands/recipe.js')).recipeTestCommand(file, cmd.optsWithGlobals(), redactor)),
    );

  reportOptions(sshFileOptions(program.command('run')))
    .description(
      'run one job of the config end to end: back up, store a copy in every target, apply retention, notify. ' +
        'Without --job: the only job, or the top-level settings when the config defines no jobs. ' +
        "The copies go to the job's `targets` only ($LSBACKUP_TARGET is not used: the job's retention and locks are of its own targets).",
    )
    .option('-c, --config <file>', 'config file (default: $LSBACKUP_CONFIG, else the first found; see lsbackup --help)')
    .option('--job <name>', 'the job to run (required when the config defines several)')
    .option('--json', `machine-readable output: one JSON event per line, the run report last (${PROGRESS_HELP})`)
    .option('--metrics-textfile <file>', METRICS_TEXTFILE_HELP)
    .option('--sign-key <file>', 'sign metadata.json with this unencrypted SSH private key (default: config signing.key)')
    .option(
      '--lock-wait <seconds>',
      'wait this long for another run holding the cluster or a target lock (default: config `lockWait`, else 0: fail at once)',
      nonNegativeInt,
    )
    .option('--full', "a full backup now, whatever the job's `incremental` (fullEvery, maxChain) says (docs/incremental.md)")
    .addOption(compressOption())
    .action(async (_o, cmd: Command) => setExitCode(await (await import('./commands/run.js')).runCommand(cmd.optsWithGlobals(), redactor)));

  program
    .command('schedule')
    .description(
      "run every job on its cron `schedule` until SIGTERM/SIGINT; a job's run never overlaps itself (a busy tick is skipped and counted). " +
        'Jobs sharing a cluster or a target run one after another (the later one is queued). ' +
        'Edits of the config or recipes are applied without restart, and SIGHUP reloads them too; an invalid edit is reported and the previous configuration keeps running. ' +
        'SIGTERM/SIGINT stop gracefully: running jobs run their post-steps and send their outcome notifications (no retries while stopping).',
    )
    .option('-c, --config <file>', 'config file (default: $LSBACKUP_CONFIG, else the first found; see lsbackup --help)')
    .option('--json', 'structured log: one JSON object per line')
    .option(
      '--metrics-listen <address>',
      'serve Prometheus metrics of every job at http://<address>/metrics (host:port, :port or port, e.g. 127.0.0.1:9469, [::1]:9469); last-success figures are read from the targets at start',
    )
    .option(
      '--lock-wait <seconds>',
      "each job waits this long for another lsbackup process holding its cluster or a target lock (default: the job's `lockWait`, else 0)",
      nonNegativeInt,
    )
    .action(async (_o, cmd: Command) => setExitCode(await (await import('./commands/schedule.js')).scheduleCommand(cmd.optsWithGlobals(), redactor)));

  const config = program.command('config').description('check, show and create lsbackup.config.yaml');
  config
    .command('validate')
    .description(
      'check the config: YAML, schema, ${ENV} references, cron schedules, then each job as run checks it before any work ' +
        '(build dir and inventory, recipes, components.only/skip/vars, targets and their credentials, signing key, age recipients); every problem as file:line:col (exit 78)',
    )
    .option('-c, --config <file>', 'config file (default: $LSBACKUP_CONFIG, else the first found; see lsbackup --help)')
    .option('--json', 'machine-readable result')
    .action(async (_o, cmd: Command) => setExitCode(await (await import('./commands/config.js')).configValidateCommand(cmd.optsWithGlobals(), redactor)));
  config
    .command('show')
    .description('print every job with the settings it inherits merged in, secrets masked')
    .option('-c, --config <file>', 'config file (default: $LSBACKUP_CONFIG, else the first found; see lsbackup --help)')
    .option('--json', 'machine-readable output (the merged config in one event) instead of YAML')
    .action(async (_o, cmd: Command) => setExitCode(await (await import('./commands/config.js')).configShowCommand(cmd.optsWithGlobals(), redactor)));
  config
    .command('init')
    .description('print an annotated sample config generated from the schema (or write it with --output)')
    .option('-o, --output <file>', 'write the sample to this file instead of stdout')
    .option('--force', 'overwrite --output when it exists')
    .option('--json', 'machine-readable result: the file written, or the sample')
    .action(async (options) => setExitCode(await (await import('./commands/config.js')).configInitCommand(options, redactor)));

  const backupArgument = '<backup>';
  const backupHelp = "a backup name in the target, 'latest', or the path/URI of one archive (its directory is then the target)";
  catalogOptions(
    program
      .command('list')
      .description(
        'list the backups in a target, newest first: name, time, size, status (DAMAGED / CHAIN DAMAGED when a verify found it or its chain damaged), components, cluster, job, kind (full or incremental) and the base an incremental needs',
      ),
  ).action(async (_o, cmd: Command) => setExitCode(await (await import('./commands/list.js')).listCommand(cmd.optsWithGlobals<CatalogOptions>(), redactor)));
  catalogOptions(
    program
      .command('show')
      .description("show a backup's metadata: components x hosts, versions, entries and bytes (--json: metadata.json as is)")
      .argument(backupArgument, backupHelp),
  ).action(async (spec: string, _o, cmd: Command) =>
    setExitCode(await (await import('./commands/show.js')).showCommand(spec, cmd.optsWithGlobals<CatalogOptions>(), redactor)),
  );
  catalogOptions(
    program
      .command('verify')
      .description(
        "stream a backup back and check every entry's size and sha256 against its metadata.json, the archive against its .sha256 sidecar, " +
          'and the signature of metadata.json (signed by a trusted key / unsigned / BAD); exits 1 naming what is bad. ' +
          'What it finds damaged (the backup, a member of its chain) is recorded in the target (<archive>.damaged): list shows it DAMAGED, ' +
          'no incremental is based on it (the next run is a full); a verify that finds it intact again removes the mark. ' +
          'A read that breaks off (a download cut, a target gone away) is said as such, exit 1, and marks nothing: verify again. ' +
          `Shows progress against the stored size (--json: ${PROGRESS_HELP}, before the result event)`,
      )
      .argument(backupArgument, backupHelp)
      .option(
        '--trusted-keys <file>',
        'allowed_signers or .pub file of the keys trusted to sign backups (repeatable; default: config signing.trusted)',
        repeat,
      ),
  ).action(async (spec: string, _o, cmd: Command) =>
    setExitCode(await (await import('./commands/verify.js')).verifyCommand(spec, cmd.optsWithGlobals<CatalogOptions>(), redactor)),
  );
  catalogOptions(
    program
      .command('get')
      .description(
        'download a backup to a local file, atomically, checking the stored bytes against the .sha256 sidecar on the way (a mismatch writes nothing, exit 1); with --identity an encrypted backup is decrypted on the way. ' +
          `Shows progress against the stored size (--json: ${PROGRESS_HELP}, before the result event)`,
      )
      .argument(backupArgument, backupHelp)
      .argument('<dest>', 'file to write, or a directory to write it into (one named with a trailing /, e.g. ./restore-me/, is made when missing)'),
  ).action(async (spec: string, dest: string, _o, cmd: Command) =>
    setExitCode(await (await import('./commands/get.js')).getCommand(spec, dest, cmd.optsWithGlobals<CatalogOptions>(), redactor)),
  );
  const prune = catalogOptions(
    program
      .command('prune')
      .description(
        'delete old backups by a retention policy (borg-style: the newest backup of each day/week/month, in UTC — its newest successful one when it has one —, plus the last N), ' +
          'applied to each cluster and job on its own, by the start time in the backup metadata; ' +
          'never deletes the newest successful backup of a group, keeps (and reports) backups whose metadata cannot be read and, while it does, every older backup of their cluster (one may be their base), ' +
          'ignores files that are not lsbackup archives, deletes sidecars with their archive',
      )
      .option('--keep-within <interval>', 'keep every backup within this interval of the newest one: a number and h/d/w/m/y, e.g. 7d', withinInterval)
      .option('--keep-last <n>', 'keep the N newest backups', positiveInt)
      .option('--keep-hourly <n>', 'keep the newest backup of each of the last N hours that have one', positiveInt)
      .option('--keep-daily <n>', 'keep the newest backup of each of the last N days that have one', positiveInt)
      .option('--keep-weekly <n>', 'keep the newest backup of each of the last N ISO weeks that have one', positiveInt)
      .option('--keep-monthly <n>', 'keep the newest backup of each of the last N months that have one', positiveInt)
      .option('--keep-yearly <n>', 'keep the newest backup of each of the last N years that have one', positiveInt)
      .option(
        '--job <name>',
        'only the backups this config job made (default: every job, each pruned on its own); a job no backup there records is a usage error',
      )
      .option('--no-job', 'only the backups that record no job (made by apply, or before lsbackup recorded jobs)')
      .option('--dry-run', 'only print what would be kept and deleted (deletes nothing, so it also works on a target this user or mount cannot write)')
      .option(
        '--leftovers',
        "only list and remove what dead runs left in the target: S3 incomplete multipart uploads, Azure Files and local temp files, and sidecars without their archive (a run or prune killed halfway), on S3 and Azure once not written to for the staleUploadHours option (default 24), locally once idle an hour; no --keep-* needed. Every prune and every backup run (its own cluster's) also removes them",
      )
      .option('--lock-wait <seconds>', 'wait this long for a backup running into the target to finish (default: fail at once)', positiveInt),
  );
  // --job and --no-job set one value (the last wins): given both, the operator meant one of them.
  const jobFlags = new Set<string>();
  prune.on('option:job', () => jobFlags.add('--job')).on('option:no-job', () => jobFlags.add('--no-job'));
  prune.action(async (_o, cmd: Command) => {
    if (jobFlags.size > 1) {
      throw new LsError('EUSAGE', {
        message: "--job and --no-job cannot be given together: --job <name> prunes that job's backups, --no-job those that record no job",
      });
    }
    setExitCode(await (await import('./commands/prune.js')).pruneCommand(cmd.optsWithGlobals<PruneOptions>(), redactor));
  });

  program
    .command('completion')
    .description('print a shell completion script generated from this command line (bash, zsh or fish)')
    .addArgument(new Argument('<shell>', 'the shell').choices(COMPLETION_SHELLS))
    .action((shell: CompletionShell) => void process.stdout.write(completionScript(program, shell)));

  // After every command exists: these walk the whole tree.
  addOutputLevelOptions(program);
  refuseEmptyValues(program);
  addHelpExamples(program);
  program.addHelpText('after', () => `\n${configHelpLine()}`);
  // Only the root: a word where a command belongs reaches its action, which names the closest command.
  program.allowExcessArguments(true);
  return program;
}

/** Says in --help where the config comes from and which file that is now, and how progress shows. */
function configHelpLine(): string {
  const found = discoverConfig(undefined);
  const now = found ? `now: ${found.file}${found.source === 'found' ? '' : ` (from ${found.source})`}` : 'now: none found';
  return `Config: --config, else $LSBACKUP_CONFIG, else the first of ${configSearchPath(process.cwd(), process.env).join(', ')}; ${now}.\nTarget: -t, else $LSBACKUP_TARGET, else the config's \`targets\`.\nProgress: a live line per host on a terminal, a plain line every 5 s in a log, --json events every second; $LSBACKUP_PROGRESS_INTERVAL_MS sets the interval.\nStart-up: compiled code is cached in $XDG_CACHE_HOME/lsbackup (~/.cache/lsbackup); LSBACKUP_COMPILE_CACHE=<dir> moves it, =off turns it off.\nLocks: a cluster's lock is in /run/lock/lsbackup (mode 1777; /etc/tmpfiles.d/lsbackup.conf makes it at boot, docs/deploy.md), seen by every user's runs on this machine; $LSBACKUP_LOCK_DIR moves them (a container).`;
}

/**
 * Runs one command line; returns its exit code. Errors are printed through the redactor the
 * run filled (a secret in an error message is masked); nothing else of the process is touched.
 */
export async function main(argv: string[], redactor: Redactor): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = buildProgram((code) => (exitCode = code), redactor);
  // Errors carry host names, paths and remote messages: shown like every human line, control and
  // invisible format characters written out (--json below keeps them exact).
  const printError = (text: string) => process.stderr.write(visibleControls(text));
  program.configureOutput({ writeErr: printError });
  // Machines get the failure as the contract's last line too (docs/json.md); people read stderr.
  const json = wantsJson(argv);
  try {
    await program.parseAsync(argv);
    // A rejection caught by the guard stopped the run: whatever it reached, it did not succeed.
    return processFaulted() && (exitCode === ExitCode.ok || exitCode === ExitCode.partial) ? ExitCode.failed : exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      if (json) printJsonEvents([errorEvent(usageError(e), ExitCode.usage)], redactor);
      return ExitCode.usage;
    }
    if (isLsError(e)) {
      printError(`lsbackup: ${redactor.redact(e.message)}\n`);
      if (json) printJsonEvents([errorEvent(e, e.exitCode)], redactor);
      return e.exitCode;
    }
    // Not in the catalogue: a bug. Show the stack so it can be reported.
    printError(`lsbackup: unexpected error (please report):\n${redactor.redact((e as Error).stack ?? String(e))}\n`);
    if (json) printJsonEvents([errorEvent(e, ExitCode.failed)], redactor);
    return ExitCode.failed;
  }
}

/** --json anywhere among the options (before a `--`): also when parsing them is what failed. */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/** A flag or argument commander refused, as the catalogue's usage error (commander said it on stderr already). */
function usageError(e: CommanderError): LsError {
  return new LsError('EUSAGE', { message: e.message.replace(/^error: /, '').replace(/\.$/, '') });
}
