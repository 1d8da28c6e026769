/**
 * Deterministic bench data sets: the same parameters always give the same bytes, so runs
 * and machines compare. Three kinds of content, like a real host:
 *  - many small config files (key = value text, highly compressible),
 *  - large semi-compressible logs and SQL dumps (text with random ids/numbers; zstd -3 ≈ 2-3×),
 *  - incompressible data (AES-CTR keystream: fast, deterministic, random-looking).
 * A data set is written once into `dir` and reused while its stamp file matches.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';

export interface DataSpec {
  /** Small config files. */
  configs: number;
  configBytes: number;
  /** Semi-compressible logs (count × bytes). */
  logs: number;
  logBytes: number;
  /** One SQL-like dump of this many bytes (0 = none). */
  dumpBytes: number;
  /** Incompressible files (count × bytes). */
  randoms: number;
  randomBytes: number;
}

export const MiB = 1024 * 1024;

/** ~1.06 GB: the mix measured in /work/shared/PERF-FACTS.md. `scale` multiplies the big files. */
export function mixedSpec(scale: number): DataSpec {
  return {
    configs: 10_000,
    configBytes: 2048,
    logs: 4,
    logBytes: Math.round(100 * MiB * scale),
    dumpBytes: Math.round(300 * MiB * scale),
    randoms: 4,
    randomBytes: Math.round(50 * MiB * scale),
  };
}

export function totalBytes(spec: DataSpec): number {
  return spec.configs * spec.configBytes + spec.logs * spec.logBytes + spec.dumpBytes + spec.randoms * spec.randomBytes;
}

/** xorshift32: a tiny seeded PRNG, fast enough to write text at hundreds of MB/s. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const WORDS = [
  'GET',
  'POST',
  'PUT',
  'user',
  'order',
  'invoice',
  'cluster',
  'node',
  'shard',
  'replica',
  'leader',
  'commit',
  'index',
  'query',
  'timeout',
  'ok',
  'retry',
  'cache',
  'miss',
  'hit',
];
const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];

function logLine(rand: () => number, n: number): string {
  const ts = new Date(1_700_000_000_000 + n * 37).toISOString();
  const id = rand().toString(16).padStart(8, '0') + rand().toString(16).padStart(8, '0');
  return `${ts} ${LEVELS[rand() % LEVELS.length]} [worker-${rand() % 32}] ${WORDS[rand() % WORDS.length]} /api/v1/${WORDS[rand() % WORDS.length]}/${rand() % 100000} id=${id} latency=${rand() % 5000}ms status=${200 + (rand() % 4) * 100}\n`;
}

function dumpLine(rand: () => number, n: number): string {
  return `INSERT INTO orders VALUES (${n}, ${rand() % 1_000_000}, '${WORDS[rand() % WORDS.length]}-${rand().toString(36)}', ${(rand() % 100000) / 100}, '2024-0${1 + (rand() % 9)}-1${rand() % 10}');\n`;
}

async function writeText(path: string, bytes: number, seed: number, line: (rand: () => number, n: number) => string): Promise<void> {
  const rand = prng(seed);
  const out = createWriteStream(path);
  let written = 0;
  let n = 0;
  while (written < bytes) {
    const parts: string[] = [];
    let size = 0;
    while (size < 1 * MiB && written + size < bytes) {
      const l = line(rand, n++);
      parts.push(l);
      size += l.length;
    }
    let chunk = Buffer.from(parts.join(''));
    if (written + chunk.length > bytes) chunk = chunk.subarray(0, bytes - written);
    written += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}

async function writeRandom(path: string, bytes: number, seed: number): Promise<void> {
  const key = createHash('sha256').update(`lsbackup-bench-${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1 * MiB);
  const out = createWriteStream(path);
  for (let written = 0; written < bytes; written += zeros.length) {
    const chunk = cipher.update(zeros.subarray(0, Math.min(zeros.length, bytes - written)));
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}

function configText(rand: () => number, i: number, bytes: number): string {
  const lines: string[] = [`# generated config ${i}`];
  let size = lines[0]!.length;
  while (size < bytes) {
    const l = `${WORDS[rand() % WORDS.length]}.${WORDS[rand() % WORDS.length]}_${rand() % 50} = ${rand() % 10000}`;
    lines.push(l);
    size += l.length + 1;
  }
  return lines.join('\n').slice(0, bytes - 1) + '\n';
}

/** Writes the data set into `dir` (configs/, logs/, dump.sql, random/) unless already there. */
export async function ensureDataSet(dir: string, spec: DataSpec): Promise<void> {
  const stamp = join(dir, '.bench-spec.json');
  const wanted = JSON.stringify(spec);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) return;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'configs'), { recursive: true });
  const rand = prng(7);
  for (let i = 0; i < spec.configs; i++) {
    // 100 files per directory, like /etc trees: tar walks directories, not one flat list.
    const sub = join(dir, 'configs', `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `c${i}.conf`), configText(rand, i, spec.configBytes));
  }
  if (spec.logs) mkdirSync(join(dir, 'logs'));
  for (let i = 0; i < spec.logs; i++) await writeText(join(dir, 'logs', `app${i}.log`), spec.logBytes, 100 + i, logLine);
  if (spec.dumpBytes) await writeText(join(dir, 'dump.sql'), spec.dumpBytes, 200, dumpLine);
  if (spec.randoms) mkdirSync(join(dir, 'random'));
  for (let i = 0; i < spec.randoms; i++) await writeRandom(join(dir, 'random', `blob${i}.bin`), spec.randomBytes, 300 + i);
  writeFileSync(stamp, wanted);
}
