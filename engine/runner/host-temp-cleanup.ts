/**
 * The one way a command lsbackup runs on a host makes a temporary file or directory there and
 * removes it however the command ends: normally, failing, or stopped (a step's timeout, Ctrl-C,
 * a lost controller). Used by every host command that needs one (incremental collects,
 * content-addressed outputs); a temporary left behind may hold a database dump.
 *
 * Why each part:
 * - sh runs an EXIT trap only when the shell exits, not when an untrapped signal kills it, so
 *   the signals a stopped command is sent (engine/executors/kill-sequence.ts, and the group-wide
 *   TERM of engine/executors/invocation.ts) are trapped and turned into an exit.
 * - A stopped become command gets TERM more than once, to its whole process group (sudo's relay,
 *   the root shell's `kill -TERM 0`, its watcher's). A second TERM could kill the `rm` the EXIT
 *   trap forked before it unlinked anything, or run `exit` inside the EXIT trap before its first
 *   command (sh runs pending traps there), which ends the shell without the rest of the trap. So
 *   the removal (lsb_rm_temp) first ignores those signals (`rm` inherits "ignored" and finishes),
 *   and each signal's trap removes the temporary itself before it exits.
 * - Making the temporary is the one moment a stop could leave it nameless: mktemp killed after
 *   it created the file but before it printed the name, or the shell leaving before it assigned
 *   it. So mktemp runs with those signals ignored, and the shell only notes a stop that arrives
 *   meanwhile, and acts on it once the name is kept.
 */

/** Shell variables lsbackup's host commands use: lowercase, `lsb_`-prefixed (never the user's). */
const VARIABLE = /^lsb_[a-z0-9_]+$/;

const STOPS = [
  ['HUP', 129],
  ['INT', 130],
  ['PIPE', 141],
  ['TERM', 143],
] as const;

const trapEach = (action: (code: number) => string) => STOPS.map(([name, code]) => `trap '${action(code)}' ${name}`).join('; ');

/**
 * Lines that make a temporary (`mktemp`, or `mktemp -d` for a directory) into `variable` and see
 * to its removal; `ifNone` runs when none could be made (the variable is then empty).
 */
export function hostTemporary(variable: string, kind: 'file' | 'directory', ifNone: string): string[] {
  if (!VARIABLE.test(variable)) throw new Error(`not a host temporary variable: '${variable}'`);
  const signals = STOPS.map(([name]) => name).join(' ');
  return [
    `${variable}=; lsb_stopped=`,
    `lsb_rm_temp() { trap "" ${signals}; [ -z "$${variable}" ] || rm -rf "$${variable}"; }`,
    `trap lsb_rm_temp EXIT`,
    trapEach((code) => `lsb_stopped=${code}`),
    `${variable}=$(trap "" ${signals}; exec mktemp${kind === 'directory' ? ' -d' : ''} 2>/dev/null) || ${variable}=`,
    trapEach((code) => `lsb_rm_temp; exit ${code}`),
    '[ -z "$lsb_stopped" ] || exit "$lsb_stopped"',
    `if [ -z "$${variable}" ]; then ${ifNone}; fi`,
  ];
}
