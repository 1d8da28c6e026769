#!/usr/bin/env node
// Bundles the CLI that tsc built (dist/engine/cli/bin.js) into dist/cli/lsbackup.js and a few
// chunks (run by `npm run build`, after build-validators). Node 20 resolves, reads and compiles
// every module file on its own and keeps no compile cache: unbundled, a trivial run loaded ~550
// files (300 of ours, execa's 100, yaml's 70, ...) and most of its start-up went there
// (BENCHMARKS.md, "Start-up"). Dynamic imports stay lazy: each becomes a chunk loaded on first use.
//
// Left in node_modules, imported from there when first needed: ssh2 (a native binding, loaded by
// a relative require esbuild cannot follow) and the AWS and Azure SDKs (hundreds of modules that
// only the s3:// and azure:// targets use; bundling them would only grow the build).
import { chmodSync, copyFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild-wasm';

const dist = (path) => fileURLToPath(new URL(`../dist/${path}`, import.meta.url));
const entry = 'cli/lsbackup.js';

// Chunk names carry a hash: chunks of an earlier build would pile up.
rmSync(dist('cli'), { recursive: true, force: true });
await build({
  entryPoints: { lsbackup: dist('engine/cli/bin.js') },
  outdir: dist('cli'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['ssh2', '@aws-sdk/*', '@azure/*'],
  // CommonJS packages inside an ES module bundle still call require() for Node's built-ins.
  banner: { js: "import { createRequire as lsbackupCreateRequire } from 'node:module'; const require = lsbackupCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
// engine/schema/precompiled.ts loads the build-time validators from beside the module that
// asks for them, which in the bundle is dist/cli/.
copyFileSync(dist('engine/schema/validators.generated.cjs'), dist('cli/validators.generated.cjs'));
chmodSync(dist(entry), 0o755);
console.log(`bundle-cli: dist/engine/cli/bin.js -> dist/${entry}`);
