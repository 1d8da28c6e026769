/**
 * --json output: lines of one event-loop turn are written together (engine/report/reporters.ts);
 * none may be lost or reordered, also when the process exits without closing the reporter.
 */
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';

const script = (ending: string) => `
import { createReporter } from ${JSON.stringify(path.join(repoRoot, 'dist/engine/report/reporters.js'))};
import { createRedactor } from ${JSON.stringify(path.join(repoRoot, 'dist/engine/secrets/redactor.js'))};
const redactor = createRedactor();
redactor.add('hunter2-secret', 'secret X');
const reporter = await createReporter('json', redactor);
for (let i = 0; i < 5000; i++) reporter.emit({ type: 'entry', component: 'c', host: 'h', path: 'p/' + i + '/hunter2-secret', size: i });
await new Promise((r) => setImmediate(r));
reporter.emit({ type: 'warning', message: 'last' });
${ending}
`;

it.each([
  ['closed', 'reporter.close();'],
  ['not closed, process.exit', 'process.exit(3);'],
])('every line arrives, in order, redacted (%s)', async (_label, ending) => {
  const r = await execa('node', ['--input-type=module', '-e', script(ending)], { reject: false });
  const lines = String(r.stdout)
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(lines).toHaveLength(5001);
  expect(lines.slice(0, 5000).map((l) => l.size)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  expect(lines[4999].path).toBe('p/4999/***');
  expect(lines[5000]).toMatchObject({ type: 'warning', message: 'last' });
});

/**
 * The reader is slow: nothing is read from the pipe until the script is about to exit (or, since a
 * script that writes synchronously blocks on the full pipe and never gets there, until a deadline
 * passes). Before the fix, stdout queued what the 64 KiB pipe could not take and process.exit
 * dropped it (4192 of 5001 lines under load). The deadline only decides when reading starts: a
 * correct reporter passes however long it is.
 */
it('every line arrives when the reader of the pipe is slow and the process exits', async () => {
  const child = spawn('node', ['--input-type=module', '-e', script('process.stderr.write("exiting\\n"); process.exit(3);')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pause();
  let stderr = '';
  await new Promise<void>((startReading) => {
    const deadline = setTimeout(startReading, 3000);
    child.stderr.on('data', (d) => {
      stderr += String(d);
      if (stderr.includes('exiting')) {
        clearTimeout(deadline);
        startReading();
      }
    });
  });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  child.stdout.resume();
  const code = await new Promise<number | null>((done) => child.on('close', done));
  expect(code, stderr).toBe(3);
  const lines = Buffer.concat(chunks)
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  expect(lines).toHaveLength(5001);
  expect(lines[5000]).toMatchObject({ type: 'warning', message: 'last' });
});
