/**
 * Where a backup's streamed output (collect steps, snapshot `output:`) is compressed on its way
 * to the archive: `local` (the default) sends it as is over SSH; `remote` compresses it with
 * zstd on the host and lsbackup decompresses it, so slow links carry fewer bytes. Set per run
 * (--compress, config `compress`, a job's `compress`) and per host (inventory variable
 * `lsbackup_compress`, which wins).
 */
import { LsError } from '../errors.js';
import type { Host, Inventory } from '../inventory/types.js';

export const COMPRESS_MODES = ['local', 'remote'] as const;
export type CompressMode = (typeof COMPRESS_MODES)[number];

/** How one host's streamed output travels: as the command wrote it, or zstd-compressed by the host. */
export type Transport = 'plain' | 'zstd';

/** The inventory variable that sets the mode of one host (a host behind a slow link). */
export const COMPRESS_HOST_VAR = 'lsbackup_compress';

/** The transport of `host` when the run asks for `runMode`; call checkCompressVars first. */
export function hostTransport(host: Host, runMode: CompressMode): Transport {
  const mode = hostMode(host) ?? runMode;
  // On this machine no network is saved: compressing only to decompress on the same CPU costs twice.
  if (host.connection.kind === 'local') return 'plain';
  return mode === 'remote' ? 'zstd' : 'plain';
}

/** Every host whose `lsbackup_compress` is not `local` or `remote`, in one error (exit 78). */
export function checkCompressVars(inventory: Inventory): void {
  const bad = [...inventory.hosts.values()].filter((h) => h.vars[COMPRESS_HOST_VAR] !== undefined && hostMode(h) === undefined);
  if (bad.length === 0) return;
  throw new LsError('EHOSTVAR', {
    name: COMPRESS_HOST_VAR,
    hosts: bad.map((h) => `${h.name} (${JSON.stringify(h.vars[COMPRESS_HOST_VAR])})`),
    allowed: COMPRESS_MODES.join(' or '),
  });
}

function hostMode(host: Host): CompressMode | undefined {
  const value = host.vars[COMPRESS_HOST_VAR];
  return COMPRESS_MODES.find((m) => m === value);
}
