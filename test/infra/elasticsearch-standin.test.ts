// Elasticsearch here is a STAND-IN (test/infra/standins/elasticsearch.ts): nothing real runs
// on this machine. The client side is real: curl, as a recipe calls it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startElasticsearchStandIn, type ElasticsearchStandIn } from './standins/elasticsearch.js';
import { runChecked } from './servers/common.js';

let es: ElasticsearchStandIn;
beforeAll(async () => (es = await startElasticsearchStandIn()));
afterAll(async () => es?.stop());

/** curl -s with a JSON body; returns [status, parsed body]. */
async function curl(method: string, path: string, body?: unknown): Promise<[number, any]> {
  const args = ['-s', '-w', '\n%{http_code}', '-X', method, `${es.url}${path}`, '-H', 'Content-Type: application/json'];
  if (body !== undefined) args.push('--data-binary', JSON.stringify(body));
  const out = (await runChecked('curl', args)).stdout;
  const cut = out.lastIndexOf('\n');
  return [Number(out.slice(cut + 1)), JSON.parse(out.slice(0, cut) || '{}')];
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
