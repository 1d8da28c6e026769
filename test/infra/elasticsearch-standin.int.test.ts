// Elasticsearch here is a STAND-IN (test/infra/standins/elasticsearch.ts): nothing real runs
// on this machine. The client side is real: curl, as a recipe calls it. These tests pin the
// product behaviour the stand-in imitates (ES 7.10.2 / Open Distro 1.13), so a recipe that
// passes against it is not passing by the stand-in's leniency.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startElasticsearchStandIn, type ElasticsearchStandIn } from './standins/elasticsearch.js';
import { runChecked } from './servers/common.js';

let es: ElasticsearchStandIn;
beforeAll(async () => (es = await startElasticsearchStandIn()));
afterAll(async () => es?.stop());

/** [status, parsed body] of a request through curl (the stand-in's own client). */
async function curl(method: string, path: string, body?: unknown): Promise<[number, any]> {
  const r = await es.request(method, path, body);
  return [r.status, r.body];
}

describe('Elasticsearch stand-in', () => {
  it('refuses an fs repository outside path.repo with a 500, like ES', async () => {
    const [status, body] = await curl('PUT', '/_snapshot/bad', { type: 'fs', settings: { location: '/var/tmp/elsewhere' } });
    expect(status).toBe(500);
    expect(body.error.type).toBe('repository_exception');
    expect(body.error.reason).toMatch(/path\.repo/);
  });

  it('snapshots indices into real repository files and restores them after close/delete', async () => {
    const location = join(es.pathRepo[0]!, 'lsbackup');
    expect((await curl('PUT', '/_snapshot/lsbackup', { type: 'fs', settings: { location, compress: true } }))[0]).toBe(200);
    expect((await curl('PUT', '/logs-1/_doc/a', { msg: 'first' }))[0]).toBe(201);
    await curl('PUT', '/logs-1/_doc/b', { msg: 'second' });
    await curl('PUT', '/users/_doc/u1', { name: 'ann' });

    const [, created] = await curl('PUT', '/_snapshot/lsbackup/snap1?wait_for_completion=true', { indices: 'logs-*,users' });
    expect(created.snapshot.state).toBe('SUCCESS');
    expect(created.snapshot.indices.sort()).toEqual(['logs-1', 'users']);
    const files = await readdir(location);
    expect(files).toEqual(expect.arrayContaining(['index-0', 'index.latest', `snap-${created.snapshot.uuid}.dat`, 'indices']));
    expect((await curl('GET', '/_snapshot/lsbackup/snap1'))[1].snapshots[0].state).toBe('SUCCESS');

    // An open index blocks restore, as in ES.
    expect((await curl('POST', '/_snapshot/lsbackup/snap1/_restore', {}))[0]).toBe(500);
    await curl('POST', '/logs-1/_close');
    expect((await curl('GET', '/logs-1/_doc/a'))[0]).toBe(400);
    await curl('DELETE', '/users');
    expect((await curl('GET', '/users/_doc/u1'))[0]).toBe(404);

    expect((await curl('POST', '/_snapshot/lsbackup/snap1/_restore?wait_for_completion=true', {}))[0]).toBe(200);
    expect((await curl('GET', '/logs-1/_doc/b'))[1]._source).toEqual({ msg: 'second' });
    expect((await curl('GET', '/users/_doc/u1'))[1]._source).toEqual({ name: 'ann' });
    expect((await curl('GET', '/_cluster/health'))[1].status).toBe('green');
  });

  it('reads snapshots back from the repository directory alone (what a restored tar gives)', async () => {
    const location = join(es.pathRepo[0]!, 'fresh');
    await curl('PUT', '/_snapshot/fresh', { type: 'fs', settings: { location } });
    await curl('PUT', '/k/_doc/1', { v: 1 });
    await curl('PUT', '/_snapshot/fresh/s?wait_for_completion=true', { indices: 'k' });
    // A second server that only gets the files under path.repo.
    const other = await startElasticsearchStandIn({ pathRepo: es.pathRepo });
    try {
      const c = (m: string, p: string, b?: unknown) =>
        runChecked('curl', ['-sf', '-X', m, `${other.url}${p}`, '-H', 'Content-Type: application/json', ...(b ? ['--data-binary', JSON.stringify(b)] : [])]);
      await c('PUT', '/_snapshot/fresh', { type: 'fs', settings: { location } });
      await c('POST', '/_snapshot/fresh/s/_restore?wait_for_completion=true', {});
      expect(JSON.parse((await c('GET', '/k/_doc/1')).stdout)._source).toEqual({ v: 1 });
    } finally {
      await other.stop();
    }
    expect((await curl('DELETE', '/_snapshot/fresh/s'))[0]).toBe(200);
    expect((await curl('GET', '/_snapshot/fresh/s'))[0]).toBe(404);
    await rm(location, { recursive: true, force: true });
  });
});

describe('Elasticsearch stand-in: what real ES does that a lenient stand-in would not', () => {
  const register = (location: string) => es.request('PUT', '/_snapshot/gen', { type: 'fs', settings: { location, compress: true } });

  it('keeps the repository generation in cluster state: an identical re-registration changes nothing, a changed repository is corrupted until deleted and registered again', async () => {
    const location = join(es.pathRepo[0]!, 'gen');
    expect((await register(location)).status).toBe(200);
    await es.request('PUT', '/g/_doc/1', { v: 1 });
    expect((await es.request('PUT', '/_snapshot/gen/one?wait_for_completion=true', { indices: 'g' })).status).toBe(200);
    expect((await es.request('PUT', '/_snapshot/gen/two?wait_for_completion=true', { indices: 'g' })).status).toBe(200);
    expect(es.repository('gen')).toEqual({ generation: 1, corrupted: false });

    // Generation 0 put back underneath (as a restore of an older copy does), then registered
    // again with the same settings ("compress" as a string is the same setting): nothing changes.
    await rm(join(location, 'index-1'));
    await writeFile(join(location, 'index-0'), JSON.stringify({ snapshots: [], indices: {} }));
    const latest = Buffer.alloc(8);
    await writeFile(join(location, 'index.latest'), latest);
    expect((await es.request('PUT', '/_snapshot/gen', { type: 'fs', settings: { location, compress: 'true' } })).status).toBe(200);
    expect(es.repository('gen')).toEqual({ generation: 1, corrupted: false });
    // Reads still answer from cluster state; the next write finds index-1 gone: corrupted.
    expect((await es.request('GET', '/_snapshot/gen/two')).status).toBe(200);
    const write = await es.request('PUT', '/_snapshot/gen/three?wait_for_completion=true', { indices: 'g' });
    expect(write.status).toBe(500);
    expect(write.body.error.reason).toMatch(/expected current generation \[1\] but it was not found/);
    expect((await es.request('GET', '/_snapshot/gen/_all')).body.error.reason).toMatch(/contents of the repository do not match its expected state/);
    expect((await register(location)).status).toBe(200);
    expect(es.repository('gen')!.corrupted).toBe(true);

    // Deleted and registered again: the generation is read from the files.
    expect((await es.request('DELETE', '/_snapshot/gen')).status).toBe(200);
    expect((await register(location)).status).toBe(200);
    expect(es.repository('gen')).toEqual({ generation: 'unknown', corrupted: false });
    expect((await es.request('POST', '/_snapshot/gen/_verify')).status).toBe(200);
    expect((await es.request('GET', '/_snapshot/gen/_all')).body.snapshots).toEqual([]);
    expect(es.repository('gen')).toEqual({ generation: 0, corrupted: false });
    await es.request('DELETE', '/_snapshot/gen');
  });

  it('answers IN_PROGRESS before a snapshot ends; PARTIAL and FAILED are reachable, with HTTP 500 when waited for; names must be lowercase', async () => {
    await register(join(es.pathRepo[0]!, 'states'));
    await es.request('PUT', '/p/_doc/1', { v: 1 });
    await es.request('PUT', '/k/_doc/1', { v: 1 });
    expect((await es.request('PUT', '/_snapshot/gen/Upper', { indices: 'p' })).body.error.type).toBe('invalid_snapshot_name_exception');
    expect((await es.request('PUT', '/_snapshot/gen/s1', { indices: 'p' })).body).toEqual({ accepted: true });
    const answers = es.inProgressAnswers();
    expect((await es.request('GET', '/_snapshot/gen/s1')).body.snapshots[0].state).toBe('IN_PROGRESS');
    expect(es.inProgressAnswers()).toBe(answers + 1);
    expect((await es.request('GET', '/_snapshot/gen/s1')).body.snapshots[0].state).toBe('SUCCESS');

    es.setSnapshotOutcome('PARTIAL');
    try {
      const partial = await es.request('PUT', '/_snapshot/gen/s2?wait_for_completion=true', { indices: 'p,k' });
      expect(partial.status).toBe(500);
      expect(partial.body.snapshot).toMatchObject({ state: 'PARTIAL', shards: { total: 2, failed: 1, successful: 1 } });
      expect(partial.body.snapshot.failures[0].index).toBe('k');
      // Kept in the repository; its failed index cannot be restored.
      await es.request('DELETE', '/k');
      expect((await es.request('POST', '/_snapshot/gen/s2/_restore?wait_for_completion=true', { indices: 'k' })).body.error.reason).toMatch(
        /wasn't fully snapshotted/,
      );
      es.setSnapshotOutcome('FAILED');
      const failed = await es.request('PUT', '/_snapshot/gen/s3?wait_for_completion=true', { indices: 'p' });
      expect([failed.status, failed.body.snapshot.state]).toEqual([500, 'FAILED']);
      expect((await es.request('GET', '/_snapshot/gen/_all')).body.snapshots.map((x: { state: string }) => x.state)).toEqual(['SUCCESS', 'PARTIAL', 'FAILED']);
    } finally {
      es.setSnapshotOutcome('SUCCESS');
      await es.request('DELETE', '/_snapshot/gen');
    }
  });

  it('snapshots hidden indices with `*`; other wildcards leave them out', async () => {
    const other = await startElasticsearchStandIn();
    try {
      await other.request('PUT', '/.kibana_1', { settings: { index: { hidden: true } } });
      await other.request('PUT', '/.kibana_1/_doc/x', { t: 1 });
      await other.request('PUT', '/visible/_doc/x', { t: 1 });
      await other.request('PUT', '/_snapshot/h', { type: 'fs', settings: { location: join(other.pathRepo[0]!, 'h') } });
      const snap = await other.request('PUT', '/_snapshot/h/a?wait_for_completion=true', { indices: '*' });
      expect(snap.body.snapshot.indices.sort()).toEqual(['.kibana_1', 'visible']);
      await other.request('POST', '/*/_close');
      const status = (await other.request('GET', '/_cat/indices')).body.map((i: { index: string; status: string }) => [i.index, i.status]).sort();
      expect(status).toEqual([
        ['.kibana_1', 'open'],
        ['visible', 'close'],
      ]);
    } finally {
      await other.stop();
    }
  });

  it("with security: HTTPS with LambdaStack's certificates, basic auth, the admin certificate, and Open Distro's restore rules", async () => {
    const secured = await startElasticsearchStandIn({ security: { adminPassword: 'pw' } });
    const expired = await startElasticsearchStandIn({ security: { adminPassword: 'pw', adminExpired: true } });
    try {
      expect(secured.url).toMatch(/^https:\/\/localhost:/);
      expect((await runChecked('openssl', ['x509', '-in', secured.certs!.adminCert, '-noout', '-subject'])).stdout).toMatch(/CN\s*=\s*LambdaStack Admin/);
      expect((await secured.request('GET', '/', undefined, { password: 'nope' })).status).toBe(401);
      expect((await secured.request('GET', '/')).status).toBe(200);
      expect((await secured.request('GET', '/', undefined, { cert: true })).status).toBe(200);
      // An expired client certificate gets no connection at all (basic auth never gets a say).
      await expect(expired.request('GET', '/', undefined, { cert: true })).rejects.toThrow();
      expect((await expired.request('GET', '/')).status).toBe(200);

      await secured.request('PUT', '/data/_doc/1', { v: 1 });
      await secured.request('PUT', '/_snapshot/r', { type: 'fs', settings: { location: join(secured.pathRepo[0]!, 'r') } });
      const snap = await secured.request('PUT', '/_snapshot/r/s?wait_for_completion=true', { indices: '*' });
      expect(snap.body.snapshot.indices.sort()).toEqual(['.opendistro_security', 'data']);
      expect((await secured.request('POST', '/.opendistro_security/_close')).status).toBe(403);
      await secured.request('POST', '/data/_close');
      for (const body of [{ indices: 'data', include_global_state: true }, { indices: '*' }, { indices: 'data,.opendistro_security' }, {}]) {
        const r = await secured.request('POST', '/_snapshot/r/s/_restore?wait_for_completion=true', body);
        expect([r.status, r.body.error?.type], JSON.stringify(body)).toEqual([403, 'security_exception']);
      }
      expect((await secured.request('POST', '/_snapshot/r/s/_restore?wait_for_completion=true', { indices: 'data', include_global_state: false })).status).toBe(
        200,
      );
      // The admin certificate may restore the security index: its users come back with it.
      await secured.request('PUT', '/_opendistro/_security/api/internalusers/admin', { password: 'pw2' });
      await secured.request('POST', '/.opendistro_security/_close', undefined, { cert: true });
      expect(
        (await secured.request('POST', '/_snapshot/r/s/_restore?wait_for_completion=true', { indices: '.opendistro_security' }, { cert: true })).status,
      ).toBe(200);
      expect((await secured.request('GET', '/', undefined, { password: 'pw' })).status).toBe(200);
    } finally {
      await secured.stop();
      await expired.stop();
    }
  });
});
