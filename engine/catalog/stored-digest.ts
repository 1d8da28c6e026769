/**
 * What `verify` and `restore` both say of a stored object whose sha256 is not the one its
 * `.sha256` sidecar records: the stored bytes, which for an encrypted backup are the ciphertext.
 */
export function sidecarDigestMismatch(storedSha256: string, sidecarSha256: string): string {
  return `the stored archive has sha256 ${storedSha256}, its .sha256 sidecar says ${sidecarSha256}`;
}
