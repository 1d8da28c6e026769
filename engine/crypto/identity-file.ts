import { readFile } from 'node:fs/promises';
import { cryptoError } from './crypto-error.js';

// Apart from age.ts: reading a key file must not load the age library (start-up cost).
/** Read the identities (`AGE-SECRET-KEY-...` lines) of an age identity file, as `age-keygen` writes it. */
export async function parseIdentityFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw cryptoError(`cannot read identity file ${path}: ${(cause as Error).message}`, cause);
  }
  const identities = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (identities.length === 0) throw cryptoError(`identity file ${path} holds no AGE-SECRET-KEY-1... line`);
  const bad = identities.findIndex((line) => !line.startsWith('AGE-SECRET-KEY-'));
  if (bad >= 0) throw cryptoError(`identity file ${path}: line ${bad + 1} is not an age secret key`);
  return identities;
}
