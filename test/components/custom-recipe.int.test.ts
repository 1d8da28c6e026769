/**
 * Authoring without code: a recipe for a component lsbackup does not ship (a "notes" app:
 * attachment files + a SQLite database), kept in a fixture directory outside recipes/, is
 * validated, backed up, its data destroyed, restored and compared — all through the built
 * CLI. Everything is real (sqlite3, tar, the local host via ansible_connection=local).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { archiveEntries, archivesIn } from '../helpers/archive.js';
import { cliOutput, runCli, workspace } from '../helpers/cli.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'notes');

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace('lsb-notes-');
});
afterEach(async () => ws.cleanup());

const sql = (db: string, statement: string) => execa('sqlite3', [db, statement]).then((r) => r.stdout);

it('backs up and restores a component from a recipe alone', async () => {
  const db = path.join(ws.dir, 'notes', 'notes.db');
  const files = path.join(ws.dir, 'notes', 'attachments');
  await mkdir(path.join(files, '2024'), { recursive: true });
  await writeFile(path.join(files, '2024', 'plan.txt'), 'ship it\n');
  await writeFile(path.join(files, 'logo.svg'), '<svg/>\n');
  await writeFile(path.join(files, 'upload.tmp'), 'partial\n');
  await sql(
    db,
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT); INSERT INTO notes (title, body) VALUES ('first', 'hello'), ('quote''s', 'a ''quoted'' body');",
  );
  const rows = await sql(db, 'SELECT * FROM notes ORDER BY id');
  const build = path.join(ws.dir, 'build');
  await ws.write('build/inventory', '[notes]\nnotes1 ansible_connection=local\n');
  await ws.write('build/host_vars/notes1.yml', `notes_db: ${db}\nnotes_files: ${files}\n`);

  const validate = await runCli(['validate', FIXTURE]);
  expect(validate.exitCode, cliOutput(validate)).toBe(0);
  expect(validate.stdout).toMatch(/notes@0\.1\.0/);

  const target = path.join(ws.dir, 'backups');
  const backup = await runCli(['apply', FIXTURE, '-b', build, '-t', target]);
  expect(backup.exitCode, cliOutput(backup)).toBe(0);
  const [archive] = await archivesIn(target);
  const entries = (await archiveEntries(path.join(target, archive!))).join('\n');
  expect(entries).toContain('notes/notes1/notes.sql');
  expect(entries).not.toContain('upload.tmp');

  // Destroy: the database is gone, one file deleted, another overwritten.
  await rm(db);
  await rm(path.join(files, '2024'), { recursive: true });
  await writeFile(path.join(files, 'logo.svg'), 'broken\n');

  const restore = await runCli(['restore', path.join(target, archive!), '-b', build, '--yes', '--recipes', FIXTURE]);
  expect(restore.exitCode, cliOutput(restore)).toBe(0);
  expect(await sql(db, 'SELECT * FROM notes ORDER BY id')).toBe(rows);
  expect(await readFile(path.join(files, '2024', 'plan.txt'), 'utf8')).toBe('ship it\n');
  expect(await readFile(path.join(files, 'logo.svg'), 'utf8')).toBe('<svg/>\n');
}, 180_000);
