/**
 * Injection, fuzz-style with a fixed seed: hostile inventory host names, inventory host vars,
 * recipe var defaults and --var overrides (shell metacharacters, newlines, quotes, Handlebars
 * syntax, unicode) must each reach the remote command as ONE literal argument. The recipe
 * prints its arguments with `printf '%s\0'` into the archive, and the test splits them back.
 * Both a local host and a real SSH host (sshd fleet) are used in every round.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { startFleet, SUDO_USER, type Fleet } from '../fleet/fleet.js';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';
import { hostSegment } from '../../engine/runner/entry-paths.js';
import { prng } from '../helpers/prng.js';

const FRAGMENTS = [
  ';',
  '&&',
  '||',
  '|',
  '&',
  '$(id)',
  '`id`',
  '${HOME}',
  '$HOME',
  "'",
  '"',
  '\\',
  '\n',
  '\r',
  '\t',
  ' ',
  '*',
  '?',
  '[a]',
  '~',
  '#',
  '>',
  '<',
  '>&2',
  '(',
  ')',
  '{',
  '}',
  '{{',
  '}}',
  '{{host.name}}',
  '{{secret "X"}}',
  '{{{raw}}}',
  '{{#each x}}',
  'ü',
  '☃',
  '𝄞',
  '\u202e',
  '-n',
  '--',
  '=',
  '%s',
  '%n',
  '!',
  'a',
];

function hostileValue(rand: () => number): string {
  const n = 2 + Math.floor(rand() * 6);
  let s = '';
  for (let i = 0; i < n; i++) s += FRAGMENTS[Math.floor(rand() * FRAGMENTS.length)];
  return s;
}

/** Host names: no '/', NUL or newline (Ansible could not address those either); '[' starts a host range (tested apart). */
function hostileName(rand: () => number, suffix: string): string {
  return hostileValue(rand).replace(/[/\0\n\r[\]]/g, '') + suffix;
}

let fleet: Fleet;
let ws: Awaited<ReturnType<typeof workspace>>;

beforeAll(async () => {
  fleet = await startFleet({ hosts: 1 });
  ws = await workspace('lsb-faults-inject-');
}, 60_000);
afterAll(async () => {
  await fleet?.stop();
  await ws?.cleanup();
});

interface Round {
  hosts: { name: string; local: boolean; b: string }[];
  recipeVar: string;
  cliVar: string;
}

async function runRound(round: Round, n: number): Promise<{ args: Map<string, string[]>; stderr: string; exitCode: number }> {
  const dir = path.join(ws.dir, `round${n}`);
  const build = path.join(dir, 'build');
  const target = path.join(dir, 'backups');
  await mkdir(build, { recursive: true });
  const sshHost = fleet.hosts[0]!;
  const hosts: Record<string, Record<string, unknown>> = {};
  for (const h of round.hosts) {
    hosts[h.name] = h.local
      ? { ansible_connection: 'local', b: h.b }
      : {
          ansible_host: sshHost.address,
          ansible_port: sshHost.port,
          ansible_user: SUDO_USER,
          ansible_ssh_private_key_file: fleet.clientKey,
          ansible_ssh_common_args: `-o UserKnownHostsFile=${fleet.knownHosts}`,
          b: h.b,
        };
  }
  // JSON is YAML: every string survives exactly.
  await writeFile(path.join(build, 'inventory.yml'), JSON.stringify({ all: { children: { app: { hosts } } } }, null, 2));
  await writeFile(
    path.join(dir, 'app.yaml'),
    recipeYaml(
      'app',
      `hosts: { group: app, run: all }
vars:
  a: ${JSON.stringify(round.recipeVar)}
  c: default-c
detect: "true"
backup:
  snapshot:
    - run: printf '%s\\0' {{vars.a}} {{host.vars.b}} {{host.name}} {{vars.c}} {{join inventory.groups.app}}
      output: args.bin
`,
    ),
  );
  const r = await runCli(['apply', path.join(dir, 'app.yaml'), '-b', build, '-t', target, '--var', `app.c=${round.cliVar}`], { timeoutMs: 180_000 });
  const args = new Map<string, string[]>();
  const names = (await readdir(target).catch(() => [] as string[])).filter((f) => f.endsWith('.tar.gz'));
  if (names.length === 1) {
    const file = path.join(target, names[0]!);
    const listing = (await execa('tar', ['--quoting-style=literal', '-tzf', file])).stdout.split('\n').filter((e) => e.endsWith('/args.bin'));
    for (const entry of listing) {
      const out = await execa('tar', ['--quoting-style=literal', '-xzOf', file, '--', entry], { encoding: 'buffer' });
      const parts = Buffer.from(out.stdout).toString('utf8').split('\0');
      args.set(entry, parts.slice(0, -1));
    }
  }
  await rm(dir, { recursive: true, force: true });
  return { args, stderr: r.stderr, exitCode: r.exitCode };
}

describe('hostile values reach the command as one literal argument', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`seed ${seed}: inventory names and vars, recipe vars and --var, local and SSH hosts`, async () => {
      const rand = prng(seed);
      const round: Round = {
        hosts: [
          { name: hostileName(rand, '-local'), local: true, b: hostileValue(rand) },
          { name: hostileName(rand, '-ssh'), local: false, b: hostileValue(rand) },
        ],
        recipeVar: hostileValue(rand),
        cliVar: hostileValue(rand),
      };
      const { args, stderr, exitCode } = await runRound(round, seed);
      expect(exitCode, `${JSON.stringify(round)}\n${stderr}`).toBe(0);
      expect(args.size).toBe(2);
      const groupNames = round.hosts.map((h) => h.name);
      for (const host of round.hosts) {
        const entry = [...args.keys()].find((k) => k === `app/${hostSegment(host.name)}/args.bin`);
        expect(entry, `no entry for ${JSON.stringify(host.name)} in ${JSON.stringify([...args.keys()])}`).toBeDefined();
        expect(args.get(entry!)).toEqual([round.recipeVar, host.b, host.name, round.cliVar, ...groupNames]);
      }
    }, 240_000);
  }

  it('a hostile inventory value where quotes do not quote (inside "…", $((…)), a here-document) is refused before anything runs', async () => {
    const dir = path.join(ws.dir, 'places');
    const build = path.join(dir, 'build');
    const canary = path.join(dir, 'canary');
    await mkdir(build, { recursive: true });
    const sshHost = fleet.hosts[0]!;
    const hostile = `/nowhere$(touch ${canary})\`touch ${canary}\``;
    const hosts = {
      'h-local': { ansible_connection: 'local', b: hostile, n: hostile },
      'h-ssh': {
        ansible_host: sshHost.address,
        ansible_port: sshHost.port,
        ansible_user: SUDO_USER,
        ansible_ssh_private_key_file: fleet.clientKey,
        ansible_ssh_common_args: `-o UserKnownHostsFile=${fleet.knownHosts}`,
        b: hostile,
        n: hostile,
      },
    };
    await writeFile(path.join(build, 'inventory.yml'), JSON.stringify({ all: { children: { app: { hosts } } } }, null, 2));
    const recipeText = recipeYaml(
      'app',
      `hosts: { group: app, run: all }
detect: "true"
backup:
  snapshot:
    - run: |
        test -d {{host.vars.b}} || echo "no directory {{host.vars.b}}" >&2
        echo $(( {{host.vars.n}} + 1 ))
        cat <<EOF
        {{host.vars.b}}
        EOF
      output: out.txt
`,
    );
    await writeFile(path.join(dir, 'app.yaml'), recipeText);
    const r = await runCli(['apply', path.join(dir, 'app.yaml'), '-b', build, '-t', path.join(dir, 'backups')], { timeoutMs: 180_000 });
    expect(existsSync(canary), r.stderr).toBe(false);
    const lines = recipeText.split('\n');
    const line = lines.findIndex((l) => l.includes('echo "no directory')) + 1;
    const col = lines[line - 1]!.indexOf('host.vars.b}}"') + 1;
    expect(r.stderr).toContain(`app.yaml:${line}:${col}`);
    expect(r.stderr).toContain(`'host.vars.b' stands inside "…" in this command, where shell quoting does not work`);
    expect(r.exitCode, r.stderr).toBe(78);
    expect(await readdir(path.join(dir, 'backups')).catch(() => [])).toEqual([]);
  }, 240_000);

  it('a host name that is not one (an Ansible range with a bad bound) is rejected with a clear error, nothing runs', async () => {
    const { args, stderr, exitCode } = await runRound({ hosts: [{ name: 'db[a]$(id)', local: true, b: 'x' }], recipeVar: 'v', cliVar: 'w' }, 98);
    expect(exitCode).toBe(78);
    expect(stderr).toMatch(/inventory\.yml:\d+:\d+: host range 'db\[a\]\$\(id\)' must be begin:end/);
    expect(args.size).toBe(0);
  }, 240_000);

  it('a host named ".." or "." cannot put entries outside its component directory', async () => {
    const { args, stderr, exitCode } = await runRound(
      {
        hosts: [
          { name: '..', local: true, b: 'x' },
          { name: '.', local: true, b: 'y' },
        ],
        recipeVar: 'v',
        cliVar: 'w',
      },
      99,
    );
    expect(exitCode, stderr).toBe(0);
    const entries = [...args.keys()];
    expect(entries.sort()).toEqual(['app/_/args.bin', 'app/__/args.bin']);
  }, 240_000);
});
