import { randomBytes } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { access, link, lstat, mkdir, open, readdir, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { candidateNames } from './support/collision.js';
import { NameTakenError, publishTogether, type PublishStore } from './support/publish-together.js';
import { isStaleLeftover, orphanSidecars } from './support/stale-leftovers.js';
import { LsError } from '../engine/errors.js';
import { fsyncPath } from '../engine/atomic-file.js';
import { DEFAULT_BLOCK_SIZE } from '../engine/archive/block-writer.js';
import type { PendingUpload, PutOptions, StaleScope, StoredObject, Target } from './types.js';

/** A sidecar without its archive is a dead run's once nothing touched it for this many hours (cleanStale). */
const ORPHAN_SIDECAR_GRACE_HOURS = 1;

export const scheme = 'file';

/** A directory needs no options; the schema says so, so a stray key is reported where it is. */
export const localTargetOptionsSchema = {
  $id: 'https://lsbackup.dev/schemas/targets/file-options.json',
  title: 'Options of a directory (file://) target',
  description: 'A local directory takes no options.',
  type: 'object',
  additionalProperties: false,
  properties: {},
};

/** Uploads in progress live beside their destination under this prefix; list() hides them. */
export const TEMP_PREFIX = '.lsbackup-tmp-';
const MAX_COLLISIONS = 1000;

function targetError(target: string, message: string, cause?: unknown): LsError {
  return new LsError('ETARGET', { target, message }, { cause });
}

/** `file:///backups` or `/backups` or `./backups` -> an absolute directory path. */
export function directoryFromUri(uri: string): string {
  return resolve(uri.startsWith('file://') ? fileURLToPath(uri) : uri);
}

/** Object names are plain file names: no directories, no dot-files that could hide temp files. */
function checkName(target: string, name: string): void {
  if (!name || name.includes('/') || name.includes('\0') || name.startsWith('.')) {
    throw targetError(target, `'${name}' is not a valid backup name (a plain file name not starting with '.')`);
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([lstat(a), lstat(b).catch(() => undefined)]);
  return y !== undefined && x.ino === y.ino && x.dev === y.dev;
}

/** Can we create a file there? access() alone lies for root and read-only mounts, so try. */
async function probeWritable(uri: string, dir: string): Promise<void> {
  try {
    await access(dir, constants.W_OK | constants.X_OK);
    const probe = join(dir, `${TEMP_PREFIX}probe-${randomBytes(6).toString('hex')}`);
    await (await open(probe, 'wx', 0o600)).close();
    // A run holding the target's lock may have removed it already as a stale temp file.
    await unlink(probe).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  } catch (err) {
    throw targetError(
      uri,
      `directory ${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); fix its permissions or mount it read-write`,
      err,
    );
  }
}

export interface LocalTargetOptions {
  /** Extra check run first (nfs: is it a mount point). */
  precheck?: (dir: string) => Promise<void>;
}

/**
 * A directory as a target. Writes go to 0600 temp files beside the destination and are
 * published with link(), which fails instead of overwriting, so two runs (on two machines
 * sharing an NFS export too) never clobber each other and a reader never sees half an archive.
 */
export function createLocalTarget(uri: string, options: LocalTargetOptions = {}): Target {
  const dir = directoryFromUri(uri);

  async function check(): Promise<void> {
    await options.precheck?.(dir);
    const info = await stat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw targetError(uri, `cannot read ${dir}: ${err.code}`, err);
    });
    if (info && !info.isDirectory()) throw targetError(uri, `${dir} exists but is not a directory`);
    if (!info) {
      // put() will create it; the nearest existing ancestor must let us.
      let parent = dirname(dir);
      while (!(await stat(parent).catch(() => undefined))) parent = dirname(parent);
      return probeWritable(uri, parent);
    }
    return probeWritable(uri, dir);
  }

  /** The no-clobber primitives publishTogether() needs: temp files beside their final names, published with link(). */
  const publishStore: PublishStore<string> = {
    taken: async (name) => (await lstat(join(dir, name)).catch(() => undefined)) !== undefined,
    async stage(finalName, content) {
      const temp = tempPath(finalName);
      try {
        const file = await open(temp, 'wx', 0o600);
        await pipeline(content, file.createWriteStream());
        await fsyncPath(temp);
        return temp;
      } catch (err) {
        await rm(temp, { force: true });
        throw err;
      }
    },
    async place(temp, finalName) {
      try {
        await link(temp, join(dir, finalName)); // fails instead of replacing: the name is ours or taken
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // NFS: a retransmitted LINK whose first try succeeded reports EEXIST for our own link.
        return sameFile(temp, join(dir, finalName));
      }
    },
    unplace: (_temp, finalName) => unlink(join(dir, finalName)),
    discard: (temp) => rm(temp, { force: true }),
    settle: () => fsyncPath(dir), // make the new directory entries durable
  };

  const tempPath = (name: string) => join(dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-${name}`);

  async function put(name: string, putOptions: PutOptions = {}): Promise<PendingUpload> {
    checkName(uri, name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = tempPath(name);
    // Read-write: a writer that lets zstd fill the file reads it back to hash it.
    const file = await open(temp, 'wx+', 0o600).catch((err: NodeJS.ErrnoException) => {
      throw targetError(uri, `cannot create a file in ${dir} (${err.code ?? err.message})`, err);
    });
    // A 1 MiB buffer: chunks queued while one write is on the threadpool go out as one writev.
    const stream = file.createWriteStream({ highWaterMark: DEFAULT_BLOCK_SIZE });
    let settled = false;
    const removeTemp = async () => {
      settled = true;
      // Close the file (through its stream) before removing it.
      if (!stream.closed) await new Promise<void>((done) => stream.once('close', () => done()).destroy());
      await rm(temp, { force: true });
    };
    const avoidCollision = putOptions.avoidCollision ?? false;
    return {
      stream,
      fd: file.fd,
      async commit(sidecars) {
        if (settled) throw targetError(uri, `upload of ${name} was already committed or aborted`);
        try {
          await finished(stream); // the writer ends the stream; wait until every byte is in the file
          await fsyncPath(temp);
          const finalName = await publishTogether(publishStore, temp, candidateNames(name, avoidCollision, MAX_COLLISIONS), sidecars);
          settled = true;
          // Published: a temp name that stays (unlink failed) is only litter for cleanStale().
          await unlink(temp).catch(() => undefined);
          return (await statObject(finalName))!;
        } catch (err) {
          await removeTemp();
          if (err instanceof NameTakenError) {
            throw targetError(
              uri,
              avoidCollision ? `no free name for ${name} after ${MAX_COLLISIONS} tries` : `${name} already exists; it was not overwritten`,
            );
          }
          throw err instanceof LsError ? err : targetError(uri, `could not store ${name}: ${(err as Error).message}`, err);
        }
      },
      async abort() {
        if (!settled) await removeTemp();
      },
    };
  }

  async function statObject(name: string): Promise<StoredObject | undefined> {
    checkName(uri, name);
    const info = await stat(join(dir, name)).catch(() => undefined);
    return info?.isFile() ? { name, size: info.size, modified: info.mtime } : undefined;
  }

  async function list(): Promise<StoredObject[]> {
    const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      // A mistyped -t must not read as "no backups yet": say the directory is not there.
      if (err.code === 'ENOENT') throw targetError(uri, `directory ${dir} does not exist (check the target's path: a typo, or a share not mounted)`, err);
      throw targetError(uri, `cannot list ${dir}: ${err.code}`, err);
    });
    const objects = await Promise.all(names.filter((n) => !n.startsWith(TEMP_PREFIX) && !n.startsWith('.')).map(statObject));
    return objects.filter((o): o is StoredObject => o !== undefined).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async function get(name: string): Promise<Readable> {
    if (!(await statObject(name))) throw targetError(uri, `${name} does not exist in ${dir}`);
    return createReadStream(join(dir, name));
  }

  async function remove(name: string): Promise<void> {
    checkName(uri, name);
    await unlink(join(dir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw targetError(uri, `cannot delete ${name}: ${err.code}`, err);
    });
  }

  /**
   * Temp files of uploads that were never committed (a run killed with SIGKILL leaves them), and
   * sidecars without their archive untouched for an hour. Called under the target's lock, which
   * every run writing here holds: lsbackup is writing none of them now. The hour spares a backup
   * being copied in by hand, sidecars first.
   */
  async function cleanStale(scope: StaleScope = {}): Promise<string[]> {
    const names = await readdir(dir).catch(() => [] as string[]);
    const temps = names.filter((n) => n.startsWith(TEMP_PREFIX));
    const orphans: string[] = [];
    for (const name of orphanSidecars(names, scope)) {
      const info = await lstat(join(dir, name)).catch(() => undefined);
      if (info?.isFile() && isStaleLeftover(name, info.mtime, scope, ORPHAN_SIDECAR_GRACE_HOURS)) orphans.push(name);
    }
    if (!scope.dryRun) await Promise.all([...temps, ...orphans].map((n) => rm(join(dir, n), { force: true })));
    return [...temps, ...orphans.map((n) => `${n} (sidecar without its archive)`)];
  }

  return { uri, directory: dir, lockFile: join(dir, '.lsbackup.lock'), check, put, list, stat: statObject, get, delete: remove, cleanStale };
}
