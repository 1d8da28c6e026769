/**
 * A command's streamed stdout is delivered into the caller's sink before the command's result
 * is: local and SSH executors (real sshd fleet), directly and through `runStreamed` with the
 * host-side zstd transport. The race this guards lost the tail of a stream whenever the sink
 * was slower than the command's end (docs/faults.md, "Streams"); `npm run test:stress` runs
 * this file under CPU burners.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { LocalExecutor } from '../../engine/executors/local.js';
import { SshExecutor } from '../../engine/executors/ssh.js';
import type { CommandResult, Executor } from '../../engine/executors/types.js';
import { shellQuote } from '../../engine/template/index.js';
import { runStreamed } from '../../engine/runner/streamed-run.js';
import type { Transport } from '../../engine/runner/transport.js';
import { waitFor } from '../faults/support.js';

const SIZE = 1024 * 1024; // within one SSH channel window: the command finishes while the sink holds it all
/**
 * How long a run that must not finish yet is watched. A correct executor cannot finish in it
 * (the sink holds every write until release()); the broken one finished within milliseconds.
 * A slower machine can only make a broken executor look right, never a correct one wrong.
 */
const WATCH_MS = 2000;

let fleet: Fleet;
let dir: string;
let file: string;
let digest: string;
const executors: Record<'local' | 'ssh', () => Executor> = {
  local: () => new LocalExecutor('local'),
  ssh: () => {
    const h = fleet.hosts[0]!;
    return new SshExecutor(
      {
        name: h.name,
        connection: {
          kind: 'ssh',
          address: h.address,
          port: h.port,
          user: fleet.sudoUser,
          privateKeyFile: fleet.clientKey,
          sshArgs: ['-o', `UserKnownHostsFile=${fleet.knownHosts}`],
        },
      },
      { agent: '' },
    );
  },
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lsb-delivery-'));
  chmodSync(dir, 0o755); // the fleet's login user reads the file
  file = join(dir, 'data.bin');
  const data = randomBytes(SIZE);
  writeFileSync(file, data, { mode: 0o644 });
  digest = createHash('sha256').update(data).digest('hex');
  fleet = await startFleet({ hosts: 1 });
});
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A sink that accepts every write at once but takes none of it until release(), the slowest
 * disk: its first chunk is held, the rest wait in its buffer.
 */
function holdingSink() {
  const hash = createHash('sha256');
  let held: (() => void) | undefined;
  let taken = 0;
  const take = (chunk: Buffer, done: () => void) => {
    hash.update(chunk);
    taken += chunk.length;
    done();
  };
  const sink = new Writable({
    highWaterMark: 64 * SIZE, // never asks the source to pause: everything is handed over
    write(chunk: Buffer, _enc, done) {
      if (held === undefined) held = () => take(chunk, done);
      else take(chunk, done);
    },
  });
  return {
    sink,
    /** Bytes handed to write(), taken or not. */
    received: () => taken + sink.writableLength,
    taken: () => taken,
    release: () => held?.(),
    digest: () => hash.digest('hex'),
  };
}

/** 'running' if `p` has not settled after `ms`. */
function stillRunningAfter(p: Promise<unknown>, ms: number): Promise<'running' | 'finished'> {
  let timer: NodeJS.Timeout | undefined;
  const watch = new Promise<'running'>((resolve) => (timer = setTimeout(() => resolve('running'), ms)));
  return Promise.race([p.then(() => 'finished' as const), watch]).finally(() => clearTimeout(timer));
}

const cases: Array<[kind: 'local' | 'ssh', transport: Transport]> = [
  ['local', 'plain'],
  ['local', 'zstd'],
  ['ssh', 'plain'],
  ['ssh', 'zstd'],
];

describe.each(cases)('%s executor, %s transport', (kind, transport) => {
  it('finishes the command only once the sink has taken every byte of its stdout', async () => {
    const executor = executors[kind]();
    try {
      const { sink, received, taken, release, digest: sinkDigest } = holdingSink();
      const running: Promise<CommandResult> = runStreamed(executor, `cat ${shellQuote(file)}`, {}, sink, transport);
      await waitFor(() => received() === SIZE, 60_000, 'the whole output handed to the sink');
      expect(await stillRunningAfter(running, WATCH_MS), 'the run finished while the sink still held its output').toBe('running');
      release();
      const r = await running;
      expect(r).toMatchObject({ exitCode: 0, failed: false });
      expect(taken()).toBe(SIZE);
      expect(sinkDigest()).toBe(digest);
    } finally {
      await executor.close();
    }
  });

  it("fails with the sink's error, without hanging the command, when the sink breaks", async () => {
    const executor = executors[kind]();
    try {
      const sink = new Writable({ write: (_chunk, _enc, done) => done(new Error('disk full in the test sink')) });
      sink.on('error', () => {}); // the caller's own handling; the result must carry the error
      // Far more than any pipe or channel window: a command nobody reads any more would block.
      const r = await runStreamed(executor, 'head -c 67108864 /dev/zero', {}, sink, transport);
      expect(r.failed).toBe(true);
      expect(r.cause?.message).toContain('disk full in the test sink');
    } finally {
      await executor.close();
    }
  });
});
