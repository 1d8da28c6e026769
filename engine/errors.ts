/**
 * The error catalogue. Every error lsbackup expects to happen has a code here with a
 * message and a fix; it prints as one paragraph. Anything else is a bug and prints a stack.
 */

/** Process exit codes (README.md, "Exit codes"). */
export const ExitCode = {
  ok: 0,
  failed: 1,
  partial: 2,
  /** `lsbackup recipe test`: a stage of the round trip failed (the recipe loaded and ran). */
  roundTripFailed: 3,
  usage: 64,
  config: 78,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** One place in a file that a problem points at. Lines and columns are 1-based. */
export interface SourcePosition {
  file: string;
  line?: number;
  col?: number;
}

/** One problem found while validating a file (recipe, config, inventory). */
export interface Problem extends SourcePosition {
  message: string;
  /** How to fix it, when we know. */
  hint?: string;
}

export function formatProblem(p: Problem): string {
  const where = [p.file, p.line, p.col].filter((v) => v !== undefined).join(':');
  return `${where}: ${p.message}${p.hint ? ` (${p.hint})` : ''}`;
}

type Definition = (details: Record<string, unknown>) => { message: string; exitCode: ExitCodeValue };

/** code -> how to say it. Keep messages one paragraph: what happened, then the fix. */
export const errorDefinitions = {
  EUSAGE: (d) => ({ message: `${d.message}. See 'lsbackup --help'.`, exitCode: ExitCode.usage }),
  EINVALID: (d) => ({
    message: `${d.what ?? 'Input'} is invalid:\n${(d.problems as Problem[]).map((p) => '  ' + formatProblem(p)).join('\n')}`,
    exitCode: ExitCode.config,
  }),
  ENOINVENTORY: (d) => ({
    message: `No Ansible inventory found at ${d.path}. Pass -b with a build directory that holds an 'inventory' file or directory, or the inventory file itself.`,
    exitCode: ExitCode.usage,
  }),
  ETEMPLATE: (d) => ({
    message: `${d.at ? `${d.at}: ` : ''}Recipe '${d.recipe}' step '${d.step}' on host '${d.host}': ${d.message}`,
    exitCode: ExitCode.config,
  }),
  ESECRET: (d) => ({ message: `Secret '${d.name}' could not be resolved: ${d.message}`, exitCode: ExitCode.config }),
  ETARGET: (d) => ({ message: `Target ${d.target}: ${d.message}`, exitCode: ExitCode.failed }),
  ECRYPTO: (d) => ({
    message: `Encryption: ${d.message}. Check the recipients (age1...) or the identity file (AGE-SECRET-KEY-1..., as written by age-keygen).`,
    exitCode: ExitCode.failed,
  }),
  ENOTARGET: (d) => ({
    message: `Unknown target '${d.uri}'. Use a directory path, file://, nfs://<mounted path>, s3://bucket/prefix or azfile://account/share/dir.`,
    exitCode: ExitCode.usage,
  }),
  ENOCOMPONENTS: (d) => ({
    message: `Nothing to back up: ${d.message}`,
    exitCode: ExitCode.failed,
  }),
  EARCHIVE: (d) => ({ message: `Archive ${d.archive}: ${d.message}`, exitCode: ExitCode.failed }),
  EMETADATA: (d) => ({
    message:
      `Backup ${d.backup}: ${d.from} is not lsbackup metadata this version can read:\n` +
      (d.problems as Problem[]).map((p) => '  ' + formatProblem(p)).join('\n') +
      (Number(d.more) > 0 ? `\n  ... and ${d.more} more` : '') +
      `\n${d.fix ? `Fix: ${d.fix}.` : 'It is damaged, or was not written by lsbackup: use a copy of the backup from another target.'}`,
    exitCode: ExitCode.failed,
  }),
  ECONNECT: (d) => ({ message: `Host ${d.host}: ${d.message}`, exitCode: ExitCode.failed }),
  EHOSTVAR: (d) => ({
    message: `Inventory variable ${d.name} must be ${d.allowed}; it is not on host ${(d.hosts as string[]).join(', host ')}. Fix it in the inventory (host_vars/, group_vars/ or the inventory file).`,
    exitCode: ExitCode.config,
  }),
  ERESTORE: (d) => ({
    message: `Restore of ${d.backup} refused before any host was touched: ${d.message}`,
    exitCode: ExitCode.failed,
  }),
  ESIGNING: (d) => ({
    message: `Signing: ${d.message}. See 'Signed backups' in the README.`,
    exitCode: ExitCode.config,
  }),
  ENOJOB: (d) => ({
    message: `${d.message}. Jobs in the config: ${(d.jobs as string[]).join(', ')}. Run e.g. 'lsbackup run --job ${(d.jobs as string[])[0]}'`,
    exitCode: ExitCode.usage,
  }),
  ELOCKED: (d) => ({
    message: `${d.what} is in use by another lsbackup run: ${d.owner} (lock ${d.file}). Wait for it to finish, or pass --lock-wait <seconds> to wait${d.waitedMs ? ` longer than ${Math.round(Number(d.waitedMs) / 1000)} s` : ''}; if that run is dead on another machine, remove the lock file.`,
    exitCode: ExitCode.failed,
  }),
  ELOCKFILE: (d) => ({
    message: `Cannot take the lock of ${d.what}: writing ${d.file} failed (${d.message}). ${d.fix ?? 'Free space there (or fix its permissions) and run again.'}`,
    exitCode: ExitCode.failed,
  }),
  ELOCKSTALE: (d) => ({
    message: `${d.what} is locked by ${d.owner}, which is gone (${d.reason}), but this run (user ${d.user}) may not remove ${d.file} (${d.code}: it belongs to ${d.fileOwner}, in a directory where only a file's owner or root removes it). Remove it as that user or root (rm ${d.file}), then run again.`,
    exitCode: ExitCode.failed,
  }),
  ENOTOOL: (d) => ({ message: `${d.tool} is needed ${d.for} but was not found: install the Debian package ${d.package}.`, exitCode: ExitCode.config }),
  EINTERRUPTED: (d) => ({
    message: `Interrupted by ${d.signal}; ${d.cleanedUp ?? 'post-steps ran and no partial backup was kept'}.`,
    exitCode: ExitCode.failed,
  }),
} satisfies Record<string, Definition>;

export type ErrorCode = keyof typeof errorDefinitions;

/** The one error class for expected failures: a code from the catalogue, details, a cause. */
export class LsError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly exitCode: ExitCodeValue;

  constructor(code: ErrorCode, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    const { message, exitCode } = errorDefinitions[code](details);
    super(message, options);
    this.name = 'LsError';
    this.code = code;
    this.details = details;
    this.exitCode = exitCode;
  }
}

export function isLsError(e: unknown): e is LsError {
  return e instanceof LsError;
}

/** Problems found in one or more files: all of them are reported at once. */
export function invalid(what: string, problems: Problem[]): LsError {
  return new LsError('EINVALID', { what, problems });
}
