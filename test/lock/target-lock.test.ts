/**
 * The lock of a store other machines reach by URL (S3, Azure Files) is per machine; it must at
 * least be one lock per store on this machine. Its name came from the URI as written, so a job
 * writing to `s3://b/p` and a `prune -t s3://b/p/` took two locks and ran at once (prune could
 * delete the base an incremental run was writing against). Only the targets' constructors run
 * here: nothing is sent to a store.
 */
import { describe, expect, it } from 'vitest';
import { targetLockFile } from '../../engine/lock/index.js';
import { createS3Target } from '../../targets/s3.js';
import { createAzureFileTarget } from '../../targets/azure-file.js';

const s3Lock = (uri: string, endpoint?: string) => targetLockFile(createS3Target(uri, { endpoint }));
const azLock = (uri: string, endpoint?: string) => targetLockFile(createAzureFileTarget(uri, { accountKey: 'a2V5', endpoint }));

describe('the lock of an S3 or Azure Files target', () => {
  it('is one lock for every way of writing the same prefix or directory', () => {
    expect(new Set(['s3://b/p', 's3://b/p/', 's3://b//p//'].map((u) => s3Lock(u)))).toHaveProperty('size', 1);
    expect(new Set(['s3://b', 's3://b/'].map((u) => s3Lock(u)))).toHaveProperty('size', 1);
    expect(new Set(['http://minio:9000', 'http://minio:9000/'].map((e) => s3Lock('s3://b/p', e)))).toHaveProperty('size', 1);
    expect(new Set(['azfile://acct/share/dir', 'azfile://acct/share/dir/', 'azfile://acct/share//dir'].map((u) => azLock(u)))).toHaveProperty('size', 1);
  });

  it('differs between stores: another prefix, bucket, endpoint, share or directory', () => {
    const s3 = [s3Lock('s3://b/p'), s3Lock('s3://b/q'), s3Lock('s3://c/p'), s3Lock('s3://b/p', 'http://minio:9000'), s3Lock('s3://b/p', 'http://ceph:7480')];
    expect(new Set(s3).size).toBe(s3.length);
    const az = [azLock('azfile://acct/share/dir'), azLock('azfile://acct/share/other'), azLock('azfile://acct/share2/dir'), azLock('azfile://acct2/share/dir')];
    expect(new Set(az).size).toBe(az.length);
  });
});
