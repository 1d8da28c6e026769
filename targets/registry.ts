import { LsError } from '../engine/errors.js';
import { localTargetOptionsSchema, openLocalTarget } from './local.js';
import { nfsTargetOptionsSchema, openNfsTarget } from './nfs.js';
import { createS3Target, s3TargetOptionsSchema } from './s3.js';
import { azureFileTargetOptionsSchema, createAzureFileTarget } from './azure-file.js';
import type { Target } from './types.js';

export type TargetFactory = (uri: string, options?: Record<string, unknown>) => Target;

/** A plugin's options schema (JSON Schema with an $id, validated by engine/schema). */
export type TargetOptionsSchema = { $id: string; properties: Record<string, unknown> } & Record<string, unknown>;

/** scheme -> plugin. One line per file in targets/; test/targets/registry.test.ts checks they match. */
export const targetFactories = new Map<string, TargetFactory>([
  ['file', openLocalTarget],
  ['nfs', openNfsTarget],
  ['s3', createS3Target as TargetFactory],
  ['azfile', createAzureFileTarget as TargetFactory],
]);

/** scheme -> the options that plugin accepts. */
export const targetOptionsSchemas = new Map<string, TargetOptionsSchema>([
  ['file', localTargetOptionsSchema],
  ['nfs', nfsTargetOptionsSchema],
  ['s3', s3TargetOptionsSchema],
  ['azfile', azureFileTargetOptionsSchema],
]);

/** The plugin scheme of a URI: `scheme://...`, or 'file' for a bare path. */
export function schemeOf(uri: string): string {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase() ?? 'file';
}

/** `scheme://...` picks a plugin; a bare path is a local directory. */
export function openTarget(uri: string, options?: Record<string, unknown>): Target {
  const factory = targetFactories.get(schemeOf(uri));
  if (!factory) throw new LsError('ENOTARGET', { uri });
  return factory(uri, options);
}

/** The options schema for a URI's plugin; ENOTARGET for an unknown scheme. */
export function targetOptionsSchema(uri: string): TargetOptionsSchema {
  const schema = targetOptionsSchemas.get(schemeOf(uri));
  if (!schema) throw new LsError('ENOTARGET', { uri });
  return schema;
}
