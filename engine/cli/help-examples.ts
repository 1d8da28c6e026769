/**
 * The "Examples:" section of each subcommand's --help, keyed by the command's path ("config
 * init"). Kept apart from main.ts so a new command adds its examples here in one entry; a test
 * (test/cli/cli-conventions.int.test.ts) fails for any command that has none.
 */
import type { Command } from 'commander';

const EXAMPLES: Record<string, [command: string, why: string][]> = {
  apply: [
    ['lsbackup apply -b ./build/mycluster -t /backups', 'back up with the bundled recipes'],
    ['lsbackup apply recipes/ -b ./build/mycluster -t s3://bucket/prod --only postgresql', 'one component, own recipes, to S3'],
    ['lsbackup apply -v', 'use the config; show the output tails of every step'],
    ['lsbackup apply --report report.html --report-format html', 'also write a one-page HTML report (matrix, targets, last 20 backups)'],
  ],
  plan: [
    ['lsbackup plan -b ./build/mycluster', 'what a backup would run where (runs nothing)'],
    ['lsbackup plan --restore -b ./build/mycluster', 'the restore steps instead'],
  ],
  restore: [
    ['lsbackup restore latest -b ./build/mycluster -t /backups --dry-run', 'verify the newest backup and show the plan'],
    ['lsbackup restore latest -b ./build/new --host-map old-db=new-db -y', 'onto another host, without asking'],
    ['lsbackup restore latest -b ./build/mycluster -t s3://bkt/prod --stream -y', 'stage nothing locally: read the backup twice'],
  ],
  validate: [
    ['lsbackup validate', 'check the bundled recipes'],
    ['lsbackup validate my-recipes/ --watch', 'check your recipes on every save'],
    ['lsbackup validate my-recipes/ --shellcheck', 'also lint every command with shellcheck'],
  ],
  run: [
    ['lsbackup run --job nightly', 'run one job of ./lsbackup.config.yaml'],
    ['LSBACKUP_CONFIG=/etc/lsbackup/prod.yaml lsbackup run -q', 'another config; print only problems'],
    ['lsbackup run --job nightly --report junit.xml --report-format junit', "CI: results in the CI's test view"],
  ],
  schedule: [
    ['lsbackup schedule -c /etc/lsbackup/config.yaml', 'run every job on its cron schedule'],
    ['lsbackup schedule --json', 'the same, logging JSON lines'],
  ],
  config: [
    ['lsbackup config init -o lsbackup.config.yaml', 'write an annotated sample config'],
    ['lsbackup config validate', 'check the config in use'],
  ],
  'config validate': [['lsbackup config validate -c lsbackup.config.yaml', 'every problem as file:line:col']],
  'config show': [['lsbackup config show --json', 'every job with its inherited settings, secrets masked']],
  'config init': [['lsbackup config init -o lsbackup.config.yaml', 'write the sample instead of printing it']],
  recipe: [['lsbackup recipe init my-cache --group cache -o my-recipes', 'start a recipe for a new component']],
  'recipe init': [
    ['lsbackup recipe init my-cache', 'write ./my-cache.yaml (group my-cache)'],
    ['lsbackup recipe init my-cache --group cache -o my-recipes && lsbackup validate my-recipes', 'into a folder of your recipes, then check it'],
  ],
  'recipe test': [
    ['lsbackup recipe test recipes/haproxy.yaml -b ./build/testcluster', 'round-trip one recipe on a test cluster'],
    ['lsbackup recipe test my-cache.yaml -b inventory.ini --keep --json', 'keep the test backup; one JSON event per line'],
  ],
  list: [
    ['lsbackup list -t /backups', 'the backups in a directory, newest first'],
    ['LSBACKUP_TARGET=s3://bucket/prod lsbackup list --s3-endpoint https://minio:9000 --s3-path-style', 'in S3'],
  ],
  show: [['lsbackup show latest -t /backups --cluster prod', "the newest backup's components x hosts"]],
  verify: [['lsbackup verify latest -t /backups --trusted-keys signers.pub', 'check the newest backup end to end']],
  get: [['lsbackup get latest -t s3://bucket/prod ./ --identity key.txt', 'download and decrypt the newest backup']],
  prune: [
    ['lsbackup prune -t /backups --keep-daily 7 --keep-weekly 4 --dry-run', 'what would be deleted'],
    ['lsbackup prune -t /backups --cluster prod --job nightly --keep-last 10', 'one job of one cluster'],
  ],
  completion: [
    ['lsbackup completion bash > /etc/bash_completion.d/lsbackup', 'bash, for every user (or: source <(lsbackup completion bash))'],
    ['lsbackup completion zsh > "${fpath[1]}/_lsbackup"', 'zsh'],
    ['lsbackup completion fish > ~/.config/fish/completions/lsbackup.fish', 'fish'],
  ],
};

/** The command's path below the program: "list", "config init". */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Every command below `program`, depth first. */
export function allSubcommands(program: Command): Command[] {
  return program.commands.flatMap((c) => [c, ...allSubcommands(c)]);
}

/** Adds each subcommand's examples after its --help; a command without an entry gets none. */
export function addHelpExamples(program: Command): void {
  for (const cmd of allSubcommands(program)) {
    const examples = EXAMPLES[commandPath(cmd)];
    if (!examples) continue;
    cmd.addHelpText('after', '\nExamples:\n' + examples.map(([line, why]) => `  # ${why}\n  ${line}`).join('\n'));
  }
}
