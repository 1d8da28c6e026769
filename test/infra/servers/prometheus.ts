/**
 * A real Prometheus 2.42 (Debian prometheus) with the admin API on (for
 * `POST /api/v1/admin/tsdb/snapshot`) and a scrape config that scrapes itself, so series
 * exist. The config dir stands in for /etc/prometheus (recipes take it as a var).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOOPBACK, launchServer, type BaseServerOptions, type RunningServer, freePort, prepareBaseDir, makeDirs, httpOk } from './common.js';

export interface PrometheusServer extends RunningServer {
  port: number;
  url: string;
  configFile: string;
  /** GET /api/v1/query?query=…; returns the `data.result` array. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
}

export interface PrometheusOptions extends BaseServerOptions {
  /** Scrape interval; short so a test sees series quickly. */
  scrapeInterval?: string;
  /** Alertmanager URL to put into the config (as LambdaStack does). */
  alertmanagerUrl?: string;
}

/** Prometheus' command-line flags here (also for a test that runs it as a service). */
export function prometheusArgs(configFile: string, dataDir: string, port: number): string[] {
  return [`--config.file=${configFile}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=${LOOPBACK}:${port}`, '--web.enable-admin-api'];
}

export async function startPrometheus(opts: PrometheusOptions = {}): Promise<PrometheusServer> {
  const { baseDir, ownedHere } = await prepareBaseDir('prom', opts);
  const dataDir = join(baseDir, 'data');
  const configDir = join(baseDir, 'etc');
  const logFile = join(baseDir, 'prometheus.log');
  await makeDirs([dataDir, configDir]);
  const port = await freePort();
  const url = `http://${LOOPBACK}:${port}`;
  const configFile = join(configDir, 'prometheus.yml');
  const alerting = opts.alertmanagerUrl
    ? `alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['${new URL(opts.alertmanagerUrl).host}']\n`
    : '';
  await writeFile(
    configFile,
    [
      'global:',
      `  scrape_interval: ${opts.scrapeInterval ?? '1s'}`,
      'scrape_configs:',
      '  - job_name: prometheus',
      '    static_configs:',
      `      - targets: ['${LOOPBACK}:${port}']`,
      alerting,
    ].join('\n'),
  );
  const { pid, stop } = await launchServer({
    what: 'prometheus',
    command: 'prometheus',
    baseDir,
    ownedHere,
    logFile,
    args: prometheusArgs(configFile, dataDir, port),
    ready: () => httpOk(`${url}/-/ready`),
    timeoutMs: opts.startTimeoutMs ?? 120_000,
  });
  const query = async (promql: string) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; data: { result: [] }; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus query ${promql}: ${body.error}`);
    return body.data.result;
  };
  return { pid, baseDir, dataDir, configDir, configFile, logFile, port, url, query, stop };
}
