/**
 * Host commands that make a temporary (engine/template/host-temp.ts) leave none behind when
 * they are stopped, as a stopped step is on a host: TERM to the whole process group, more than
 * once (sudo's relay, the root shell's `kill -TERM 0`, its watcher's). Each command runs here with
 * this machine's sh in a process group of its own; the signals are sent to that group from the
 * moment it starts, so they land at every point of its start-up, the making of the temporary
 * among them. The assertions need no timing: once the shell has exited, its temporary must be gone.
 */
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentAddressedOutputCommand } from '../../engine/runner/content-addressed-output.js';
import { hostTemporary, removeOnExit } from '../../engine/template/host-temp.js';
import { incrementalCollectCommand } from '../../engine/runner/incremental-collect-command.js';
import { renderTemplate, type TemplateContext } from '../../engine/template/index.js';

let tmp: string;
beforeEach(async () => void (tmp = await mkdtemp(path.join(os.tmpdir(), 'lsb-host-temp-'))));
afterEach(async () => rm(tmp, { recursive: true, force: true }));

/** Runs `script` in its own process group; TERM goes to the group every tick from `termAfter` on, until it exits. */
async function stopped(script: string, termAfter: () => Promise<void>, env: Record<string, string> = {}): Promise<{ signal?: string; exitCode?: number }> {
  // stdin stays open (a pipe nobody writes): the collect's `cat > prev` waits on it, like a host waiting for the controller.
  const child = execa('sh', ['-c', script], { env: { TMPDIR: tmp, ...env }, detached: true, reject: false, stdin: 'pipe', stdout: 'ignore', stderr: 'ignore' });
  let exited = false;
  const done = child.then((r) => ((exited = true), r));
  await termAfter();
  while (!exited) {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      /* the group is gone */
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const r = await done;
  return { signal: r.signal, exitCode: r.exitCode };
}

const madeTemporary = async () => {
  while ((await readdir(tmp)).length === 0) await new Promise((r) => setTimeout(r, 5));
};
const atOnce = async () => undefined;

const SHA = 'a'.repeat(64);
const commands: [string, string][] = [
  ['a content-addressed output', contentAddressedOutputCommand('echo dump; exec sleep 600', SHA)],
  ['an incremental collect (waiting for the previous manifest)', incrementalCollectCommand([`'${os.tmpdir()}'`], [], false)],
];

describe('a stopped host command leaves no temporary behind', () => {
  for (const [what, script] of commands) {
    it(`${what}: stopped while it runs, by repeated TERMs to its group`, async () => {
      for (let i = 0; i < 5; i++) {
        const r = await stopped(script, madeTemporary);
        expect(r.exitCode === 143 || r.signal === 'SIGTERM', JSON.stringify(r)).toBe(true);
        expect(await readdir(tmp), `round ${i}`).toEqual([]);
      }
    }, 120_000);

    it(`${what}: stopped at every point of its start-up, the making of the temporary among them`, async () => {
      for (let i = 0; i < 40; i++) {
        await stopped(script, atOnce);
        expect(await readdir(tmp), `round ${i}`).toEqual([]);
      }
    }, 120_000);

    it(`${what}: stopped while a slow mktemp (a busy host) has made the temporary but not yet named it`, async () => {
      // A mktemp that pauses between making the temporary and printing its name: the window a stop on a busy host can hit.
      const bin = await mkdtemp(path.join(os.tmpdir(), 'lsb-slow-mktemp-'));
      try {
        await writeFile(path.join(bin, 'mktemp'), `#!/bin/sh\nname=$(/usr/bin/mktemp "$@") || exit\nsleep 1\necho "$name"\n`);
        await chmod(path.join(bin, 'mktemp'), 0o755);
        for (let i = 0; i < 3; i++) {
          await stopped(script, madeTemporary, { PATH: `${bin}:${process.env.PATH}` });
          expect(await readdir(tmp), `round ${i}`).toEqual([]);
        }
      } finally {
        await rm(bin, { recursive: true, force: true });
      }
    }, 120_000);
  }

  it('refuses a name that is not a shell variable', () => {
    expect(() => hostTemporary('1abc', 'file', 'exit 2')).toThrow(/not a shell variable name/);
    expect(() => hostTemporary('lsb_x; rm -rf /', 'file', 'exit 2')).toThrow(/not a shell variable name/);
    expect(() => removeOnExit()).toThrow(/no variable/);
  });

  it('with no temporary space, runs what the caller said and leaves the variable empty', async () => {
    const r = await execa('sh', ['-c', [...hostTemporary('lsb_t', 'directory', 'echo "none: [$lsb_t]"; exit 7')].join('\n')], {
      env: { TMPDIR: path.join(tmp, 'absent') },
      reject: false,
    });
    expect(r.exitCode).toBe(7);
    expect(r.stdout).toBe('none: []');
  });
});

const context: TemplateContext = {
  host: { name: 'h1', address: '127.0.0.1', port: 22, user: 'backup', groups: ['app'], vars: {} },
  vars: {},
  inventory: { groups: { app: ['h1'] }, hosts: ['h1'] },
  backup: { id: 'lsbackup-c-20250101T000000Z', time: '2025-01-01T00:00:00Z', timestamp: 1735689600 },
  recipe: { name: 'app', version: '1.0.0' },
  run: { components: {} },
  secrets: new Map(),
};
const render = (template: string, shell = true) => renderTemplate(template, context, { recipe: 'app', step: 'dump', host: 'h1' }, { shell });

describe('the recipe helpers tempDir, tempFile and removeOnExit', () => {
  it('tempDir: a private directory in $TMPDIR for the command, gone when it ends', async () => {
    const command = render('{{tempDir "t"}}\necho kept > "$t/x"; ls -ld "$t" | cut -c1-10; cat "$t/x"');
    const r = await execa('sh', ['-c', command], { env: { TMPDIR: tmp } });
    expect(r.stdout).toBe('drwx------\nkept');
    expect(await readdir(tmp)).toEqual([]);
  });

  it('tempFile and removeOnExit (of a path the recipe chose): gone when the step is stopped by repeated TERMs', async () => {
    const scripts = [
      render('{{tempFile "dump"}}\necho data > "$dump"\nsleep 600'),
      render(`snap=${tmp}/snapshot.db\n{{removeOnExit "snap"}}\necho data > "$snap"\nsleep 600`),
    ];
    for (const script of scripts) {
      for (let i = 0; i < 3; i++) {
        await stopped(script, madeTemporary);
        expect(await readdir(tmp), script).toEqual([]);
      }
    }
  }, 120_000);

  it("refuses lsbackup's own variable names, names that are not variables, and use outside a command", () => {
    expect(() => render('{{tempDir "lsb_o"}}')).toThrow(/lsbackup's own/);
    expect(() => render('{{tempFile "a b"}}')).toThrow(/tempFile.*not a shell variable name/);
    expect(() => render('{{removeOnExit "ok" "1x"}}')).toThrow(/removeOnExit.*not a shell variable name: '1x'/);
    expect(() => render('{{tempDir "t"}}', false)).toThrow(/use it in a step's run command/);
  });
});
