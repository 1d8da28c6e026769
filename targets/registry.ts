import { LsError } from '../engine/errors.js';
import { openLocalTarget } from './local.js';
import { openNfsTarget } from './nfs.js';
import { createS3Target } from './s3.js';
import { createAzureFileTarget } from './azure-file.js';
import type { Target } from './types.js';

export type TargetFactory = (uri: string, options?: Record<string, unknown>) => Target;

/** scheme -> plugin. One line per file in targets/; test/targets/registry.test.ts checks they match. */
export const targetFactories = new Map<string, TargetFactory>([
  ['file', openLocalTarget],
  ['nfs', openNfsTarget],
  ['s3', createS3Target as TargetFactory],
  ['azfile', createAzureFileTarget as TargetFactory],
]);

/** `scheme://...` picks a plugin; a bare path is a local directory. */
export function openTarget(uri: string, options?: Record<string, unknown>): Target {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase() ?? 'file';
  const factory = targetFactories.get(scheme);
  if (!factory) throw new LsError('ENOTARGET', { uri });
  return factory(uri, options);
}
