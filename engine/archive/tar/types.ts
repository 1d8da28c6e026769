import type { EntryType } from '../types.js';

/** node-tar's entry types -> ours; anything else (devices, FIFOs) is not something lsbackup stores. */
export const TAR_TYPES: Partial<Record<string, EntryType>> = {
  File: 'file',
  OldFile: 'file',
  ContiguousFile: 'file',
  Directory: 'directory',
  SymbolicLink: 'symlink',
  Link: 'hardlink',
};
