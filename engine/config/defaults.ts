/**
 * The run settings' defaults, read from the `default` keywords of schemas/config.schema.json:
 * the schema is the one place they are written, so the config docs, `config init`, --help and
 * every command (apply, restore, plan, run, schedule) cannot disagree.
 */
import type { ArchiveFormat } from '../archive/types.js';
import type { Compress as CompressMode } from '../shapes/config.generated.js';
import schema from '../../schemas/config.schema.json' with { type: 'json' };

export interface RunDefaults {
  format: ArchiveFormat;
  compress: CompressMode;
  concurrency: number;
  /** Seconds. */
  stepTimeout: number;
  /** Seconds. */
  lockWait: number;
  /** Jobs verify their stored copies after the backup. */
  verify: boolean;
  plainMetadata: boolean;
}

const defs = schema.$defs;

export const RUN_DEFAULTS: Readonly<RunDefaults> = Object.freeze({
  format: defs.format.default as ArchiveFormat,
  compress: defs.compress.default as CompressMode,
  concurrency: defs.concurrency.default,
  stepTimeout: defs.stepTimeout.default,
  lockWait: defs.lockWait.default,
  verify: defs.verify.default,
  plainMetadata: schema.properties.encryption.properties.plainMetadata.default,
});
