#!/usr/bin/env node
/** The `lsbackup` executable: the process-wide set-up, then one command line (engine/cli/main.ts). */
import { installProcessGuard } from '../app/process-guard.js';
import { createRedactor } from '../secrets/redactor.js';
import { main } from './main.js';

// A reader that is gone (`lsbackup plan | head`, a log pipe whose reader died) is the reader's
// choice, not an error: what is left to print is dropped and the command goes on. A backup must
// not stop half-way for its output (post-steps not run, a service left stopped).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return;
    throw e;
  });
}

// This process runs one command: its redactor masks the guard's report of a stray rejection too.
const redactor = createRedactor();
installProcessGuard(redactor);
// No top-level await: the bundle of this file is a CommonJS script (engine/cli/compile-cache.ts).
void main(process.argv, redactor).then((code) => {
  process.exitCode = code;
  // A stray handle (a half-closed connection) must not keep Node alive; output still queued for a
  // slow reader of a pipe must not be cut off by that exit.
  setTimeout(() => void outputWritten().then(() => process.exit(code)), 500).unref();
});

async function outputWritten(): Promise<void> {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.writableLength === 0 || stream.destroyed) continue;
    await new Promise<void>((done) => {
      stream.once('drain', done).once('close', done).once('error', done);
    });
  }
}
