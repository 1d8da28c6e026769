import { LsError } from '../engine/errors.js';
import { localTargetOptionsSchema } from './local.js';
import { nfsTargetOptionsSchema } from './nfs.js';
import { s3TargetOptionsSchema } from './options/s3.js';
import { azureFileTargetOptionsSchema } from './options/azure-file.js';
import type { Target } from './types.js';

/** Each plugin's `create<Plugin>Target(uri, options)`; openTarget() below picks and loads one. */
export type TargetFactory = (uri: string, options?: Record<string, unknown>) => Target;

/** A plugin's options schema (JSON Schema with an $id, validated by engine/schema). */
export type TargetOptionsSchema = { $id: string; properties: Record<string, unknown> } & Record<string, unknown>;

/**
 * A plugin as the registry knows it: its options schema (small, needed to validate any
 * config) and how to import the plugin itself. Why lazily: the S3 and Azure SDKs cost ~40 MiB
 * RSS and a good part of start-up, and a backup to a local directory should pay for neither.
 */
export interface TargetPlugin {
  optionsSchema: TargetOptionsSchema;
  load(): Promise<TargetFactory>;
}

/** scheme -> plugin. One line per file in targets/; test/targets/registry.int.test.ts checks they match. */
export const targetPlugins = new Map<string, TargetPlugin>([
  ['file', { optionsSchema: localTargetOptionsSchema, load: async () => (await import('./local.js')).createLocalTarget as TargetFactory }],
  ['nfs', { optionsSchema: nfsTargetOptionsSchema, load: async () => (await import('./nfs.js')).createNfsTarget }],
  ['s3', { optionsSchema: s3TargetOptionsSchema, load: async () => (await import('./s3.js')).createS3Target as TargetFactory }],
  ['azfile', { optionsSchema: azureFileTargetOptionsSchema, load: async () => (await import('./azure-file.js')).createAzureFileTarget as TargetFactory }],
]);

/** scheme -> the options that plugin accepts. */
export const targetOptionsSchemas = new Map<string, TargetOptionsSchema>([...targetPlugins].map(([scheme, p]) => [scheme, p.optionsSchema]));

/** The plugin scheme of a URI: `scheme://...`, or 'file' for a bare path. */
export function schemeOf(uri: string): string {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase() ?? 'file';
}

/**
 * A URI that names no place: empty or blank (`-t "$UNSET"`), or a scheme with nothing after it.
 * Taken as a path, '' is the working directory and `file://` or `nfs://` is `/`: a backup would
 * land there instead of being refused.
 */
export function namesNoLocation(uri: string): boolean {
  return /^(?:[a-z][a-z0-9+.-]*:\/\/)?\s*$/i.test(uri);
}

/** `scheme://...` picks a plugin (imported on first use); a bare path is a local directory. */
export async function openTarget(uri: string, options?: Record<string, unknown>): Promise<Target> {
  const plugin = targetPlugins.get(schemeOf(uri));
  if (!plugin || namesNoLocation(uri)) throw new LsError('ENOTARGET', { uri });
  const factory = await plugin.load();
  return factory(uri, options);
}

/** The options schema for a URI's plugin; ENOTARGET for an unknown scheme. */
export function targetOptionsSchema(uri: string): TargetOptionsSchema {
  const schema = targetOptionsSchemas.get(schemeOf(uri));
  if (!schema) throw new LsError('ENOTARGET', { uri });
  return schema;
}
