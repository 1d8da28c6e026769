#!/usr/bin/env node
/**
 * dist/cli/lsbackup.js, the installed `lsbackup`: runs the bundle of engine/cli/bin.ts beside it
 * (dist/cli/lsbackup.cjs, built by scripts/bundle-cli.mjs) from a V8 code cache.
 */
import { fileURLToPath } from 'node:url';
import { runBundle } from './compile-cache.js';

runBundle(fileURLToPath(new URL('./lsbackup.cjs', import.meta.url)));
