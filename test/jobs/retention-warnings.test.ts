/**
 * What `config validate` says about retention (engine/jobs/retention.ts#retentionWarnings) and
 * incremental jobs (engine/jobs/backup-settings.ts#incrementalWarnings), on configs as loaded.
 */
import { describe, expect, it } from 'vitest';
import { checkConfigText } from '../../engine/config/load.js';
import { effectiveJobs } from '../../engine/jobs/resolve.js';
import { retentionWarnings } from '../../engine/jobs/retention.js';
import { incrementalWarnings } from '../../engine/jobs/backup-settings.js';

const warningsOf = (yaml: string) => {
  const { config, problems } = checkConfigText('/etc/lsbackup/lsbackup.config.yaml', `apiVersion: lsbackup/v1\nkind: Config\n${yaml}`);
  expect(problems).toEqual([]);
  const jobs = effectiveJobs(config!);
  return [...retentionWarnings(jobs, config!.encryption), ...incrementalWarnings(jobs, config!.encryption)];
};

const RECIPIENT = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';

describe('retention warnings', () => {
  it('two jobs with retention on one target and cluster: one warning naming both; other targets or clusters: none', () => {
    const shared = warningsOf(
      `cluster: prod\ntargets: [/b]\njobs:\n  nightly: { retention: { keepDaily: 7 } }\n  databases: { retention: { keepLast: 2 } }\n  adhoc: {}\n`,
    );
    expect(shared).toEqual([expect.stringContaining("jobs 'nightly' and 'databases' both set retention for cluster prod in target /b")]);
    expect(
      warningsOf(`cluster: prod\njobs:\n  a: { targets: [/a], retention: { keepLast: 1 } }\n  b: { targets: [/b], retention: { keepLast: 1 } }\n`),
    ).toEqual([]);
    expect(warningsOf(`targets: [/b]\njobs:\n  a: { cluster: x, retention: { keepLast: 1 } }\n  b: { cluster: y, retention: { keepLast: 1 } }\n`)).toEqual([]);
  });

  it('retention over encrypted metadata without an identity to read it: says nothing would be pruned, and how to fix it', () => {
    const sealed = warningsOf(`targets: [/b]\nretention: { keepLast: 3 }\nencryption: { recipients: [${RECIPIENT}] }\n`);
    expect(sealed).toEqual([expect.stringContaining('retention cannot read encrypted metadata without encryption.identityFile')]);
    expect(warningsOf(`targets: [/b]\nretention: { keepLast: 3 }\nencryption: { recipients: [${RECIPIENT}], plainMetadata: true }\n`)).toEqual([]);
    expect(warningsOf(`targets: [/b]\nencryption: { recipients: [${RECIPIENT}] }\n`)).toEqual([]);
  });

  it('incremental jobs over encrypted metadata without an identity: says every run would be a full, and how to fix it', () => {
    const sealed = warningsOf(`targets: [/b]\njobs:\n  nightly: { incremental: { maxChain: 7 } }\n  adhoc: {}\nencryption: { recipients: [${RECIPIENT}] }\n`);
    expect(sealed).toEqual([expect.stringContaining('incremental jobs cannot read the encrypted metadata of earlier backups without encryption.identityFile')]);
    expect(
      warningsOf(`targets: [/b]\nincremental: { maxChain: 7 }\nencryption: { recipients: [${RECIPIENT}], identityFile: /etc/lsbackup/key.txt }\n`),
    ).toEqual([]);
    expect(warningsOf(`targets: [/b]\nincremental: { maxChain: 7 }\nencryption: { recipients: [${RECIPIENT}], plainMetadata: true }\n`)).toEqual([]);
    expect(warningsOf(`targets: [/b]\nencryption: { recipients: [${RECIPIENT}] }\n`)).toEqual([]);
  });
});
