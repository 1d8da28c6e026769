/** The s3:// target's options schema, apart from the plugin so that validating a config does not load the AWS SDK. */
import { LsError } from '../../engine/errors.js';
import { secretOption } from '../support/secret-ref.js';
import { staleUploadHoursOption } from './stale-upload-hours.js';
import { idleTimeoutOption } from './idle-timeout.js';

/** The options as a JSON Schema, for the config schema and `lsbackup --help`. */
export const s3TargetOptionsSchema = {
  $id: 'https://lsbackup.dev/schemas/targets/s3-options.json',
  title: 'Options of the s3:// target',
  type: 'object',
  additionalProperties: false,
  properties: {
    endpoint: { type: 'string', description: 'S3-compatible endpoint URL; omit for AWS', examples: ['https://minio.example:9000'] },
    region: { type: 'string', description: 'Region', default: 'us-east-1' },
    forcePathStyle: { type: 'boolean', description: 'Use path-style URLs (most S3-compatible servers need this)', default: false },
    accessKeyId: secretOption(
      'Access key id; omit both keys to use the AWS default credential chain (AWS_* variables, profiles, instance roles)',
      'S3_ACCESS_KEY_ID',
    ),
    secretAccessKey: secretOption('Secret access key', 'S3_SECRET_ACCESS_KEY'),
    sessionToken: secretOption('Session token for temporary credentials', 'S3_SESSION_TOKEN'),
    serverSideEncryption: { type: 'string', enum: ['AES256', 'aws:kms', 'aws:kms:dsse'], description: 'Server-side encryption' },
    sseKmsKeyId: { type: 'string', description: 'KMS key for aws:kms encryption' },
    storageClass: {
      type: 'string',
      description:
        "Storage class of the archives; their sidecars (.sha256, .metadata.json, a few hundred bytes, read by list, prune and restore) stay in the bucket's default class",
      examples: ['STANDARD_IA', 'GLACIER_IR'],
    },
    partSize: {
      type: 'integer',
      minimum: 5 * 1024 * 1024,
      // S3 allows 5 GiB per part; one part is one Node buffer, at most 4 GiB.
      maximum: 4 * 1024 * 1024 * 1024,
      default: 8 * 1024 * 1024,
      description:
        "Size in bytes of the first multipart parts (5 MiB to 4 GiB); later parts double as needed so one archive can reach S3's 5 TiB within its 10,000 parts",
    },
    staleUploadHours: staleUploadHoursOption('Incomplete multipart uploads, and sidecars without their archive,'),
    queueSize: { type: 'integer', minimum: 1, maximum: 16, default: 3, description: 'Parts uploaded in parallel' },
    idleTimeout: idleTimeoutOption(),
  },
};

/** `s3://bucket/some/prefix` -> bucket and a key prefix ending in '/' (or empty). */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new LsError('ENOTARGET', { uri });
  const path = match[2]!.replace(/^\/+|\/+$/g, '');
  return { bucket: match[1]!, prefix: path ? `${path}/` : '' };
}

/** The store a URI names, however it is written (`s3://b/p` and `s3://b//p/` are one prefix). */
export function s3StoreKey(uri: string, endpoint: string | undefined): string {
  const { bucket, prefix } = parseS3Uri(uri);
  // The endpoint names the store (AWS when absent: bucket names are global there).
  return `s3 ${endpoint?.replace(/\/+$/, '') ?? 'aws'} ${bucket}/${prefix}`;
}
