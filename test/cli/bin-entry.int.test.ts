/**
 * The CLI's module (engine/cli/main.ts) only defines the command line; the executable is
 * engine/cli/bin.ts. Importing main runs no command, prints nothing and leaves the process be,
 * so a test or another program can call main() itself.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import path from 'node:path';
import { repoRoot } from '../helpers/cli.js';

const dist = path.join(repoRoot, 'dist/engine');

describe('the CLI entry', () => {
  it('importing cli/main.js runs nothing; main() runs the command line it is given', async () => {
    const script = `
      const { main } = await import(${JSON.stringify(path.join(dist, 'cli/main.js'))});
      const { createRedactor } = await import(${JSON.stringify(path.join(dist, 'secrets/redactor.js'))});
      console.log(JSON.stringify({ imported: typeof main, exitCode: process.exitCode ?? null }));
      const redactor = createRedactor();
      redactor.add('hunter2-secret', 'secret X');
      const code = await main(['node', 'lsbackup', 'apply', '-c', '/nonexistent/hunter2-secret.yaml'], redactor);
      console.log(JSON.stringify({ code }));
    `;
    const r = await execa('node', ['--input-type=module', '-e', script], { reject: false, cwd: repoRoot, timeout: 60_000 });
    const [imported, ran] = String(r.stdout).split('\n');
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(JSON.parse(imported!)).toEqual({ imported: 'function', exitCode: null });
    // The usage error is printed through the redactor main was given.
    expect(JSON.parse(ran!)).toEqual({ code: 64 });
    expect(String(r.stderr)).toBe("lsbackup: config file /nonexistent/***.yaml does not exist. See 'lsbackup --help'.");
  }, 60_000);
});
