/**
 * What `verify` and `restore` both say of a stored object whose sha256 is not the one its
 * `.sha256` sidecar records: the stored bytes, which for an encrypted backup are the ciphertext.
 */
export function sidecarDigestMismatch(storedSha256: string, sidecarSha256: string): string {
  return `the stored archive has sha256 ${storedSha256}, its .sha256 sidecar says ${sidecarSha256}`;
}

/**
 * What `verify` notes and `restore`'s plan says of an archive without a `.sha256` sidecar (one
 * fetched with `get`): its entries are still held to its own metadata.json, but a metadata.json
 * rewritten along with them would go unnoticed. Not damage: `get` copies no sidecars.
 */
export const NO_SIDECAR = "NOT checked: the archive's own sha256 — its .sha256 sidecar is missing";

/**
 * What `verify`, `restore` and `get` say of a `.sha256` sidecar whose first line is no sha256
 * (rewritten, cut, another file's): damage to the backup as stored, not a missing sidecar.
 */
export function damagedSidecar(sidecar: string, firstLine: string): string {
  const shown = firstLine.length > 80 ? `${firstLine.slice(0, 80)}…` : firstLine;
  return `its .sha256 sidecar is damaged: ${sidecar} records no sha256 of the archive (its first line is ${JSON.stringify(shown)}); put back the sidecar of another copy of this backup`;
}
