/**
 * The one way a command lsbackup runs on a host makes a temporary file or directory there and
 * removes it however the command ends: normally, failing, or stopped (a step's timeout, Ctrl-C,
 * a lost controller). lsbackup's own host commands use it (incremental collects,
 * content-addressed outputs), and recipes through the `tempDir`, `tempFile` and `removeOnExit`
 * helpers (docs/recipes.md); a temporary left behind may hold a database dump or an etcd snapshot.
 *
 * Why each part:
 * - sh runs an EXIT trap only when the shell exits, not when an untrapped signal kills it, so
 *   the signals a stopped command is sent (engine/executors/kill-sequence.ts, and the group-wide
 *   TERM of engine/executors/invocation.ts) are trapped and turned into an exit.
 * - A stopped become command gets TERM more than once, to its whole process group (sudo's relay,
 *   the root shell's `kill -TERM 0`, its watcher's). A second TERM could kill the `rm` the EXIT
 *   trap forked before it unlinked anything, or run `exit` inside the EXIT trap before its first
 *   command (sh runs pending traps there), which ends the shell without the rest of the trap. So
 *   the removal first ignores those signals (`rm` inherits "ignored" and finishes), and each
 *   signal's trap removes the temporaries itself before it exits.
 * - Making the temporary is the one moment a stop could leave it nameless: mktemp killed after
 *   it created the file but before it printed the name, or the shell leaving before it assigned
 *   it. So mktemp runs with those signals ignored, and the shell only notes a stop that arrives
 *   meanwhile, and acts on it once the name is kept.
 */

/** A shell variable name (the temporaries' paths are kept in shell variables). */
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

const STOPS = [
  ['HUP', 129],
  ['INT', 130],
  ['PIPE', 141],
  ['TERM', 143],
] as const;
const SIGNALS = STOPS.map(([name]) => name).join(' ');

const trapEach = (action: (code: number) => string) => STOPS.map(([name, code]) => `trap '${action(code)}' ${name}`).join('; ');

function checkVariables(variables: string[]): void {
  if (variables.length === 0) throw new Error('no variable names the temporary to remove');
  for (const v of variables) if (!VARIABLE.test(v)) throw new Error(`not a shell variable name: '${v}'`);
}

/** The function that removes them (named after them, so two sets in one script never clash). */
const remover = (variables: string[]) => `lsb_rm_${variables.join('_')}`;

/** The removal's lines: the remover function, its EXIT trap, and the stop signals' traps that run it and exit. */
function removal(variables: string[]): { define: string; onExit: string; onStop: string } {
  checkVariables(variables);
  const rm = remover(variables);
  return {
    define: `${rm}() { trap "" ${SIGNALS};${variables.map((v) => ` [ -z "\${${v}:-}" ] || rm -rf "$${v}";`).join('')} }`,
    onExit: `trap ${rm} EXIT`,
    onStop: trapEach((code) => `${rm}; exit ${code}`),
  };
}

/**
 * Lines after which whatever `variables` name when the command ends (files or directories) is
 * removed, however it ends; a variable that is empty or unset then removes nothing.
 */
export function removeOnExit(...variables: string[]): string[] {
  const { define, onExit, onStop } = removal(variables);
  return [define, onExit, onStop];
}

/**
 * Lines that make a temporary (`mktemp`, or `mktemp -d` for a directory) into `variable` and see
 * to its removal; `ifNone` runs when none could be made (the variable is then empty).
 */
export function hostTemporary(variable: string, kind: 'file' | 'directory', ifNone: string): string[] {
  const { define, onExit, onStop } = removal([variable]);
  return [
    `${variable}=; lsb_stopped=`,
    define,
    onExit,
    // Until the name is kept, a stop is only noted.
    trapEach((code) => `lsb_stopped=${code}`),
    `${variable}=$(trap "" ${SIGNALS}; exec mktemp${kind === 'directory' ? ' -d' : ''} 2>/dev/null) || ${variable}=`,
    onStop,
    '[ -z "$lsb_stopped" ] || exit "$lsb_stopped"',
    `if [ -z "$${variable}" ]; then ${ifNone}; fi`,
  ];
}
