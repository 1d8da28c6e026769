/**
 * Claiming a name in a store that has no atomic "create unless it exists" for a large upload
 * (S3: a multipart upload's key is fixed when it starts, and Swift's s3api ignores or refuses
 * conditional writes). A claim is a small lock object under `.lsbackup-claims/<name>/<id>`, its
 * id carrying its expiry, its body the owner (host, pid, command). Checked before and after:
 *
 *   1. before: the name is free when no object starts with it (the archive or a sidecar) and no
 *      live claim is on it; a taken name moves on to the next candidate (`_1`, `_2`...);
 *   2. write our claim;
 *   3. after: still free apart from our own claim -> ours. Otherwise withdraw it, wait a random
 *      moment and look at the same name again.
 *
 * Why two writers never both win (given a store whose listings show every completed write, as
 * S3 has since 2020 and Swift's container listings do once a PUT returned): the one whose step 3
 * listing ran last listed after the other's claim was written, so it saw that claim and withdrew.
 * Both may withdraw; the random wait makes one of them go first on the next look.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { NameTakenError } from './publish-together.js';

/** The few operations a claim needs. */
export interface ClaimStore {
  /** Does any object's name start with `name` (the archive itself, or one of its sidecars)? */
  objectsStartingWith(name: string): Promise<boolean>;
  /** Ids of the claims on `name` now. */
  claims(name: string): Promise<string[]>;
  writeClaim(name: string, id: string, body: string): Promise<void>;
  deleteClaim(name: string, id: string): Promise<void>;
}

export interface HeldClaim {
  name: string;
  /** Withdraw the claim (once the upload is published or abandoned). Idempotent. */
  release(): Promise<void>;
}

/** Where claims live, under the target's prefix; a leading dot keeps them out of listings. */
export const CLAIMS_DIR = '.lsbackup-claims/';
/**
 * A claim older than this is ignored. It only has to outlive the seconds in which another run
 * could pick the same timestamped name; a day is far beyond that and far below forever.
 */
export const CLAIM_TTL_MS = 24 * 3600 * 1000;
/** Rounds of withdraw-and-retry before giving up (two writers settle in one or two). */
const MAX_ROUNDS = 30;

/** `<expiry ms, 13 digits>-<random>`: the expiry is readable from a listing, no GET needed. */
function newClaimId(now: number): string {
  return `${String(now + CLAIM_TTL_MS).padStart(13, '0')}-${randomBytes(8).toString('hex')}`;
}

export function claimExpired(id: string, now = Date.now()): boolean {
  const expires = Number(id.split('-')[0]);
  return Number.isFinite(expires) && expires < now;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The first of `candidates` this writer holds exclusively; throws NameTakenError when all are taken. */
export async function claimName(store: ClaimStore, candidates: Iterable<string>): Promise<HeldClaim> {
  const busy = async (name: string, own?: string) => {
    const [objects, claims] = await Promise.all([store.objectsStartingWith(name), store.claims(name)]);
    return objects || claims.some((id) => id !== own && !claimExpired(id));
  };
  let rounds = 0;
  let last: string | undefined;
  for (const name of candidates) {
    last = name;
    while (!(await busy(name))) {
      const id = newClaimId(Date.now());
      const body = JSON.stringify({
        name,
        host: os.hostname(),
        pid: process.pid,
        command: process.argv.slice(1).join(' '),
        claimedAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + CLAIM_TTL_MS).toISOString(),
      });
      await store.writeClaim(name, id, body);
      if (!(await busy(name, id))) {
        let released: Promise<void> | undefined;
        return { name, release: () => (released ??= store.deleteClaim(name, id)) };
      }
      await store.deleteClaim(name, id);
      if (++rounds > MAX_ROUNDS) throw new NameTakenError(`${name}: other writers kept claiming the same name (${MAX_ROUNDS} rounds)`);
      await pause(50 + Math.random() * 950);
    }
  }
  throw new NameTakenError(`${last ?? 'no candidate name'} (or one of its sidecars) already exists; nothing was overwritten`);
}
