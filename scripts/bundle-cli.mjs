#!/usr/bin/env node
// Bundles the CLI that tsc built (dist/engine/cli/bin.js) into one CommonJS script,
// dist/cli/lsbackup.cjs, and its launcher dist/cli/lsbackup.js (engine/cli/launcher.ts), which
// runs it from a V8 code cache (engine/cli/compile-cache.ts); run by `npm run build`, after
// build-validators. Node 20 resolves, reads and compiles every module file on its own and keeps no
// compile cache: unbundled, a trivial run loaded ~550 files, and even bundled into ES module
// chunks, compiling them was a third of its start-up (BENCHMARKS.md, "Start-up"). Only a script
// (not an ES module) can be compiled from cached data on Node 20, hence CommonJS. What is
// imported dynamically stays lazy: esbuild wraps it in a function run on first use.
//
// Left in node_modules, required from there when first needed: ssh2 (a native binding, loaded by
// a relative require esbuild cannot follow) and the AWS and Azure SDKs (hundreds of modules that
// only the s3:// and azure:// targets use; bundling them would only grow the build).
import { chmodSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild-wasm';

const dist = (path) => fileURLToPath(new URL(`../dist/${path}`, import.meta.url));
const common = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' };

rmSync(dist('cli'), { recursive: true, force: true });
await build({
  ...common,
  entryPoints: [dist('engine/cli/bin.js')],
  outfile: dist('cli/lsbackup.cjs'),
  format: 'cjs',
  external: ['ssh2', '@aws-sdk/*', '@azure/*'],
  // The modules find files beside themselves (the package root, the validators) from import.meta.url.
  define: { 'import.meta.url': 'lsbackupBundleUrl' },
  banner: { js: "const lsbackupBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
// The launcher is CommonJS too, in a directory whose package.json says so: Node starts a CommonJS
// entry without its ES module loader, ~7 ms of CPU less per run (BENCHMARKS.md, "Session 26").
await build({
  ...common,
  entryPoints: [dist('engine/cli/launcher.js')],
  outfile: dist('cli/lsbackup.js'),
  format: 'cjs',
  define: { 'import.meta.url': 'lsbackupLauncherUrl' },
  banner: { js: "const lsbackupLauncherUrl = require('node:url').pathToFileURL(__filename).href;" },
});
writeFileSync(dist('cli/package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
const bundle = readFileSync(dist('cli/lsbackup.cjs'), 'utf8');
// A dynamic import() in a script compiled by the launcher needs Node's loader for vm scripts
// (vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER), which Node 20 has only since 20.12 (and it
// resolves from the bundle, not from the module esbuild saw): keep the bundle free of them.
const dynamicImports = bundle.match(/\bimport\(\s*["'][^"']+["']\s*\)/g);
if (dynamicImports) throw new Error(`bundle-cli: the bundle still imports dynamically: ${dynamicImports.join(', ')}; require() it instead`);
// An ASCII file is read as one-byte text (~6 ms for the bundle); one character beyond ASCII
// makes it UTF-8 decoded into two-byte text (~35 ms). esbuild escapes every such character in
// code but keeps the ones of comments it leaves in (a few in the age library's doc comments):
// they become '?'. A line that is not a comment is never touched: the build stops instead.
const lines = bundle.split('\n').map((line, i) => {
  if (!/[\u{80}-\u{10ffff}]/u.test(line)) return line;
  if (!/^\s*(\*|\/\*|\/\/)/.test(line))
    throw new Error(`bundle-cli: line ${i + 1} of the bundle has a character beyond ASCII outside a comment: ${line.trim().slice(0, 120)}`);
  return line.replace(/[\u{80}-\u{10ffff}]/gu, '?');
});
writeFileSync(dist('cli/lsbackup.cjs'), lines.join('\n'));
// engine/schema/precompiled.ts loads the build-time validators from beside the module that
// asks for them, which in the bundle is dist/cli/.
cpSync(dist('engine/schema/validators'), dist('cli/validators'), { recursive: true });
chmodSync(dist('cli/lsbackup.js'), 0o755);
console.log('bundle-cli: dist/engine/cli/bin.js -> dist/cli/lsbackup.cjs, run by dist/cli/lsbackup.js');
