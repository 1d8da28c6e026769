/**
 * A snapshot output marked `contentAddressed` in an incremental run (docs/incremental.md): the
 * host decides whether its bytes must travel. It writes the output to a private temporary file,
 * computes its sha256 there, and sends `<sha256> <size>` framed like a collect's manifest
 * (MANIFEST_HEADER, taken apart by incremental-stream.ts), followed by the bytes only when the
 * sha256 differs from the base's. The controller turns "same sha256, same size, no bytes" into a
 * reference (contentAddressedOutcome); anything else is stored whole, or the step fails.
 */
import type { EntryRecord } from '../archive/types.js';
import { hostTemporary } from '../template/index.js';
import { MANIFEST_HEADER } from './incremental-collect-command.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The command that wraps a step's own `command` (run once, as a shell function). The base's
 * sha256 is checked to be 64 hex digits before it becomes a word of the script. Without a
 * temporary file (mktemp fails) or without sha256sum the digest is empty and the output is sent
 * whole, as in a full run. The temporary file is removed however the command ends
 * (engine/template/host-temp.ts). A failing command sends nothing.
 */
export function contentAddressedOutputCommand(command: string, baseSha256: string): string {
  if (!SHA256_HEX.test(baseSha256)) throw new Error(`not a sha256: '${baseSha256}'`);
  return [
    'lsb_run() {',
    command,
    '}',
    ...hostTemporary('lsb_o', 'file', `printf '${MANIFEST_HEADER} 0\\n'; lsb_run; exit $?`),
    '( lsb_run ) > "$lsb_o" || exit $?',
    'if lsb_s=$(sha256sum < "$lsb_o") && lsb_n=$(wc -c < "$lsb_o"); then lsb_d="${lsb_s%% *} $((lsb_n))"; else lsb_d=\'\'; fi',
    `printf '${MANIFEST_HEADER} %s\\n%s' "\${#lsb_d}" "$lsb_d"`,
    `[ "\${lsb_d%% *}" = ${baseSha256} ] || cat "$lsb_o" || exit $?`,
  ].join('\n');
}

/** The base entry an output may refer to: bytes some backup of the chain holds, with their sha256. */
export function referableOutput(e: EntryRecord | undefined): e is EntryRecord & { sha256: string; size: number } {
  return e?.type === 'file' && typeof e.sha256 === 'string' && SHA256_HEX.test(e.sha256) && e.size !== undefined && !e.error && !e.changedDuringRead;
}

/**
 * What the host sent means: `framed` is the splitter's result (the digest `<sha256> <size>`, empty
 * when the host could not compute it, or why the stream was not framed), `received` the bytes
 * that came after it. Unchanged only when the host named the base's sha256 and size and sent no
 * bytes; otherwise the bytes are stored, when they are all the host said it sent.
 */
export function contentAddressedOutcome(
  framed: { manifest: Buffer; error?: string },
  received: number,
  base: { sha256: string; size: number },
): { unchanged: boolean; error?: string } {
  if (framed.error) return { unchanged: false, error: framed.error };
  const digest = framed.manifest.toString('latin1');
  if (digest === '') return { unchanged: false };
  const match = /^([0-9a-f]{64}) (\d+)$/.exec(digest);
  if (!match) return { unchanged: false, error: `the host's digest of the output is not '<sha256> <size>': '${digest.slice(0, 80)}'` };
  const [, sha256, sizeText] = match;
  const size = Number(sizeText);
  if (sha256 === base.sha256 && received === 0) {
    // Equal sha256 and different size cannot both be true of the same bytes: something is wrong.
    if (size !== base.size) return { unchanged: false, error: `the host reports the base's sha256 with ${size} bytes, the base holds ${base.size}` };
    return { unchanged: true };
  }
  if (received !== size) return { unchanged: false, error: `the host reported ${size} bytes of output and sent ${received}` };
  return { unchanged: false };
}
