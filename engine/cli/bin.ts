#!/usr/bin/env node
/** The `lsbackup` executable: the process-wide set-up, then one command line (engine/cli/main.ts). */
import { installProcessGuard } from '../app/process-guard.js';
import { createRedactor } from '../secrets/redactor.js';
import { main } from './main.js';

// `lsbackup plan | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

// This process runs one command: its redactor masks the guard's report of a stray rejection too.
const redactor = createRedactor();
installProcessGuard(redactor);
const code = await main(process.argv, redactor);
process.exitCode = code;
// Exit once output is flushed even if a stray handle (a half-closed connection) would keep Node alive.
setTimeout(() => process.exit(code), 500).unref();
