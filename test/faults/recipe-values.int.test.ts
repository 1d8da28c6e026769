/**
 * Inventory values in the shipped recipes, run for real on the local host: a value that lands
 * in a message of a failing check (a path the recipe reports as wrong) is printed as it is,
 * and nothing it holds runs. The prometheus case runs against a REAL Prometheus 2.42 (its
 * snapshot is taken, then the recipe finds it is not under the data dir the inventory names).
 * test/recipes/hostile-vars.test.ts renders every var of every shipped recipe this way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { startPrometheus, type PrometheusServer } from '../infra/index.js';
import { createCluster, shippedRecipe, type Cluster } from '../helpers/cluster.js';

let cluster: Cluster;
let prom: PrometheusServer;

beforeAll(async () => {
  prom = await startPrometheus();
  cluster = await createCluster({ local: ['prometheus', 'kubernetes_master'] });
}, 300_000);
afterAll(async () => {
  await prom?.stop();
  await cluster?.cleanup();
});

/** A path whose name would run `touch <canary>` if a shell read it unquoted or inside "…". */
function hostilePath(canary: string, under: string): string {
  return path.join(under, `d "$(touch ${canary})" \`touch ${canary}\``);
}

describe('inventory values in shipped recipes reach messages as text', () => {
  it('prometheus: a data dir that does not hold the snapshot is named as it is, nothing in it runs', async () => {
    const canary = path.join(cluster.dir, 'canary-prometheus');
    // It exists (detect passes), but the server keeps its snapshots elsewhere.
    const dataDir = hostilePath(canary, cluster.dir);
    await mkdir(dataDir, { recursive: true });
    await cluster.hostVars('localhost', { prometheus_url: prom.url, prometheus_data_dir: dataDir, prometheus_config_dir: prom.configDir });
    const r = await cluster.apply(shippedRecipe('prometheus'));
    expect(existsSync(canary), r.stderr).toBe(false);
    expect(r.exitCode, r.stderr).not.toBe(0);
    expect(r.stderr).toContain(`is not under ${dataDir}/snapshots (is prometheus_data_dir right?)`);
  }, 300_000);

  it('kubernetes: a kubeconfig that is not there is named as it is by detect, nothing in it runs', async () => {
    const canary = path.join(cluster.dir, 'canary-kubernetes');
    const kubeconfig = hostilePath(canary, cluster.dir);
    await cluster.hostVars('localhost', { k8s_kubeconfig: kubeconfig });
    const r = await cluster.apply(shippedRecipe('kubernetes'));
    expect(existsSync(canary), r.stderr).toBe(false);
    expect(r.exitCode, r.stderr).not.toBe(0);
    expect(r.stderr).toContain(`lsbackup: no kubeconfig ${kubeconfig}`);
  }, 300_000);
});
