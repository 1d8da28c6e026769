/**
 * `--report <file> --report-format junit|html` through the built CLI, on this machine (two local
 * hosts) into a real local-directory target: a run with one failing component (its reason holds
 * markup characters, non-ASCII text and a secret) and one skipped component. The JUnit file is
 * read with a real XML parser; the HTML file is opened in Debian's Chromium (playwright-core),
 * its matrix read back from the page, its chart counted against the target's catalog, and a
 * screenshot kept for a person to look at.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renderHtml } from '../../engine/report/html-report.js';
import type { RunReport } from '../../engine/report/run-report.js';
import { cliOutput, recipeYaml, repoRoot, runCli, succeeded, workspace } from '../helpers/cli.js';
import { requireCommand } from '../helpers/prerequisites.js';

const SECRET = 'tok-5f1e9c-never-in-a-report';
const REASON_TEXT = `bad <&"'> Grüße ✓`;

let ws: Awaited<ReturnType<typeof workspace>>;
let browser: Browser;

beforeAll(async () => {
  requireCommand('chromium', 'chromium');
  // As root Chromium needs --no-sandbox; the page is our own file, opened with no network.
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});
afterAll(async () => browser?.close());

beforeEach(async () => {
  ws = await workspace();
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\nlocal2 ansible_connection=local\n[db]\nlocalhost ansible_connection=local\n');
  await ws.write('recipes/app.yaml', recipeYaml('app', 'hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo hello\n      output: out.txt\n'));
  // Optional and found on no host: its cells say skipped ('not installed').
  await ws.write(
    'recipes/cache.yaml',
    recipeYaml(
      'cache',
      'hosts: { group: app }\noptional: true\ndetect: test -d /nonexistent-lsb-report-test\nbackup:\n  snapshot:\n    - run: echo c\n      output: c.txt\n',
    ),
  );
});
afterEach(async () => ws.cleanup());

/** db: a good one, or one that fails printing markup characters, non-ASCII text and its secret. */
const writeDb = (fails: boolean) =>
  ws.write(
    'recipes/db.yaml',
    recipeYaml(
      'db',
      fails
        ? `hosts: { group: db }\nbackup:\n  snapshot:\n    - run: printf '%s\\n' "${REASON_TEXT.replaceAll('"', '\\"')} $TOKEN" >&2; exit 3\n      output: dump.sql\n      env: { TOKEN: '{{secret "LSB_REPORT_TEST_TOKEN"}}' }\n`
        : `hosts: { group: db }\nbackup:\n  snapshot:\n    - run: echo "$TOKEN" | wc -c\n      output: dump.sql\n      env: { TOKEN: '{{secret "LSB_REPORT_TEST_TOKEN"}}' }\n`,
    ),
  );

const env = () => ({ LSB_REPORT_TEST_TOKEN: SECRET, XDG_CACHE_HOME: path.join(ws.dir, 'cache') });
const target = () => path.join(ws.dir, 'backups');
const apply = (cluster: string, ...extra: string[]) =>
  runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '--cluster', cluster, '-t', target(), ...extra], { env: env() });

// htmlEntities: character references (&#10;) are decoded, as XML requires.
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  htmlEntities: true,
  isArray: (name) => ['testsuite', 'testcase', 'property'].includes(name),
});

interface Testcase {
  classname: string;
  name: string;
  time: string;
  failure?: { message: string; type: string; '#text': string };
  skipped?: { message: string };
}
interface Testsuite {
  name: string;
  tests: string;
  failures: string;
  skipped: string;
  time: string;
  properties: { property: { name: string; value: string }[] };
  testcase: Testcase[];
}

async function readJunit(file: string): Promise<{ testsuites: Record<string, string> & { testsuite: Testsuite[] } }> {
  const xml = await readFile(file, 'utf8');
  expect(XMLValidator.validate(xml)).toBe(true);
  return parser.parse(xml);
}

describe('--report-format junit', () => {
  it('apply, one component failing: a suite per component, a case per host, the failure with its reason (escaped, secret masked), skipped hosts', async () => {
    await writeDb(true);
    const report = path.join(ws.dir, 'ci', 'junit.xml');
    await mkdir(path.dirname(report));
    const r = await apply('shop', '--report', report, '--report-format', 'junit');
    expect(r.exitCode, cliOutput(r)).toBe(2);
    const xml = await readFile(report, 'utf8');
    expect(xml).not.toContain(SECRET);
    const { testsuites } = await readJunit(report);
    expect(testsuites).toMatchObject({ tests: '5', failures: '1', skipped: '2', errors: '0' });
    const suites = Object.fromEntries(testsuites.testsuite.map((s) => [s.name, s]));
    expect(Object.keys(suites).sort()).toEqual(['app', 'cache', 'db']);
    expect(suites.app!.testcase.map((c) => [c.classname, c.name, c.failure, c.skipped])).toEqual([
      ['app', 'localhost', undefined, undefined],
      ['app', 'local2', undefined, undefined],
    ]);
    expect(suites.cache!.testcase.every((c) => c.skipped !== undefined && c.failure === undefined)).toBe(true);
    const [failed] = suites.db!.testcase;
    expect(failed).toMatchObject({ classname: 'db', name: 'localhost' });
    expect(failed!.failure!.message).toContain(`exit code 3: ${REASON_TEXT}`);
    expect(failed!.failure!['#text']).toBe(failed!.failure!.message);
    expect(Number(failed!.time)).toBeGreaterThan(0);
    const properties = Object.fromEntries(suites.db!.properties.property.map((p) => [p.name, p.value]));
    const [archive] = (await readdir(target())).filter((n) => n.endsWith('.tar.gz'));
    expect(properties).toMatchObject({ cluster: 'shop', archive, status: 'partial' });
    expect(properties.backupId).toMatch(/^[0-9a-f-]{36}$/);
    // Written by rename: nothing else beside it.
    expect(await readdir(path.dirname(report))).toEqual(['junit.xml']);
  });

  it('run: a job that fails as a whole still writes its report, the run failure as a failed test case', async () => {
    await writeDb(false);
    await ws.write(
      'lsbackup.config.yaml',
      'apiVersion: lsbackup/v1\nkind: Config\ncluster: shop\nbuild: ./no-such-build\nrecipes: [./recipes]\njobs:\n  nightly:\n    targets: [./backups]\n',
    );
    const r = await runCli(['run', '--report', 'junit.xml', '--report-format', 'junit'], { cwd: ws.dir, env: env() });
    expect(r.exitCode, cliOutput(r)).not.toBe(0);
    const { testsuites } = await readJunit(path.join(ws.dir, 'junit.xml'));
    expect(testsuites).toMatchObject({ tests: '1', failures: '1' });
    const [suite] = testsuites.testsuite;
    expect(suite!.name).toBe('lsbackup');
    expect(suite!.testcase[0]).toMatchObject({ classname: 'lsbackup', name: 'run' });
    expect(suite!.testcase[0]!.failure!.message).toMatch(/no-such-build/);
  });

  it('refuses --report-format without --report, a report directory that does not exist, and a directory as the report, before anything runs', async () => {
    await writeDb(false);
    const alone = await apply('shop', '--report-format', 'junit');
    expect(alone.exitCode, cliOutput(alone)).toBe(64);
    expect(alone.stderr).toMatch(/--report-format junit needs --report <file>/);
    const nowhere = await apply('shop', '--report', path.join(ws.dir, 'missing', 'r.xml'), '--report-format', 'junit');
    expect(nowhere.exitCode, cliOutput(nowhere)).toBe(64);
    expect(nowhere.stderr).toMatch(/--report .*missing\/r\.xml: directory .*missing is not writable \(ENOENT\); create it or name another file/);
    // Was: the whole backup ran, then `unexpected error (please report): EISDIR … rename`.
    const aDirectory = await apply('shop', '--report', ws.dir);
    expect(aDirectory.exitCode, cliOutput(aDirectory)).toBe(64);
    expect(aDirectory.stderr).toContain(`--report ${ws.dir}: ${ws.dir} is a directory; name a file`);
    const bogus = await apply('shop', '--report', 'r', '--report-format', 'pdf');
    expect(bogus.exitCode, cliOutput(bogus)).toBe(64);
    expect(await readdir(ws.dir)).not.toContain('backups');
  });
});

describe('--report-format html', () => {
  it('shows what a person needs, without script or network: the matrix, the archive, the targets, and one chart mark per catalog backup of the cluster', async () => {
    await writeDb(false);
    succeeded(await apply('shop'));
    succeeded(await apply('shop'));
    // Another cluster in the same target: not in this cluster's chart.
    succeeded(await apply('other'));
    await writeDb(true);
    const report = path.join(ws.dir, 'report.html');
    const r = await apply('shop', '--report', report, '--report-format', 'html');
    expect(r.exitCode, cliOutput(r)).toBe(2);
    const html = await readFile(report, 'utf8');
    expect(html).not.toContain(SECRET);
    expect(html).not.toMatch(/<script|<link|src=/i);

    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(`file://${report}`);
    const matrix = await page.$$eval('#matrix tr', (rows) =>
      rows.map((row) => [...row.querySelectorAll('th, td')].map((cell) => (cell as unknown as { innerText: string }).innerText.trim())),
    );
    const [header, ...body] = matrix;
    expect(header).toEqual(['component \\ host', 'localhost', 'local2']);
    const cells = Object.fromEntries(body.map(([component, ...row]) => [component, row]));
    expect(Object.keys(cells).sort()).toEqual(['app', 'cache', 'db']);
    expect(cells.app![0]).toMatch(/^success\n6 B · [\d.]+m?s$/);
    expect(cells.app![1]).toMatch(/^success\n6 B · /);
    expect(cells.cache![0]).toMatch(/^skipped\n0 B · /);
    expect(cells.db![0]).toMatch(/^failed\n0 B · [\d.]+m?s\n.*exit code 3: bad <&"'> Grüße ✓/s);
    expect(cells.db![1]).toBe('—');

    const [archive] = (await readdir(target()))
      .filter((n) => n.endsWith('.tar.gz'))
      .sort()
      .reverse();
    const text = await page.innerText('body');
    expect(text).toContain(archive!);
    expect(await page.innerText('#targets')).toMatch(new RegExp(`${target()}\\s+${archive}\\s+not verified`));
    // The chart: one mark per backup of 'shop' in the catalog (two good runs and this partial one), oldest first.
    const marks = await page.$$eval('#history rect.backup', (rects) => rects.map((r) => r.getAttribute('data-status')));
    expect(marks).toEqual(['success', 'success', 'partial']);
    const tips = await page.$$eval('#history rect.backup title', (titles) => titles.map((t) => t.textContent ?? ''));
    expect(tips[2]).toContain(archive!);
    expect(requests).toEqual([`file://${report}`]);

    // For a person to look at: the screenshot goes to the benchmarks' output directory, which git ignores.
    const shots = path.join(repoRoot, 'bench', 'out');
    await mkdir(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'html-report.png'), fullPage: true });
    await context.close();
  });

  it('run: a job with verify: true shows each target with its verify result, and the matrix of the job', async () => {
    await writeDb(false);
    await ws.write(
      'lsbackup.config.yaml',
      'apiVersion: lsbackup/v1\nkind: Config\ncluster: shop\nbuild: ./build\nrecipes: [./recipes]\njobs:\n  nightly:\n    verify: true\n    targets: [./backups]\n',
    );
    succeeded(await runCli(['run', '--report', 'report.html', '--report-format', 'html'], { cwd: ws.dir, env: env() }));
    const page = await browser.newPage();
    await page.goto(`file://${path.join(ws.dir, 'report.html')}`);
    const [archive] = (await readdir(target())).filter((n) => n.endsWith('.tar.gz'));
    expect(await page.innerText('#targets tbody')).toMatch(new RegExp(`${archive}\\s+ok\\b`));
    expect(await page.innerText('#matrix th[scope=row] >> nth=2')).toBe('db');
    expect(await page.locator('#history rect.backup').count()).toBe(1);
    await page.close();
  });

  it('--report-history bounds the chart to the newest backups', async () => {
    await writeDb(false);
    succeeded(await apply('shop'));
    succeeded(await apply('shop'));
    const report = path.join(ws.dir, 'report.html');
    succeeded(await apply('shop', '--report', report, '--report-format', 'html', '--report-history', '2'));
    const page = await browser.newPage();
    await page.goto(`file://${report}`);
    expect(await page.locator('#history rect.backup').count()).toBe(2);
    await page.close();
  });

  it('the chart marks a backup a verify found damaged as damaged, not as the success its run recorded', async () => {
    await writeDb(false);
    succeeded(await apply('shop'));
    const [damaged] = (await readdir(target())).filter((n) => n.endsWith('.tar.gz'));
    const file = path.join(target(), damaged!);
    const bytes = await readFile(file);
    bytes.fill(0x58, 100, 160);
    await writeFile(file, bytes);
    const verified = await runCli(['verify', damaged!, '-t', target()], { env: env() });
    expect(verified.exitCode, cliOutput(verified)).toBe(1);
    const report = path.join(ws.dir, 'report.html');
    succeeded(await apply('shop', '--report', report, '--report-format', 'html'));
    const page = await browser.newPage();
    await page.goto(`file://${report}`);
    expect(await page.$$eval('#history rect.backup', (rects) => rects.map((r) => r.getAttribute('data-status')))).toEqual(['damaged', 'success']);
    expect(await page.$eval('#history', (svg) => svg.textContent)).toContain('damaged'); // in the legend
    await page.close();
  });

  it('shows names holding markup as text: a component called <script> does not run', async () => {
    const hostile = '<script>window.pwned=1</script>';
    const report: RunReport = {
      job: 'apply',
      cluster: `c"><img src=x onerror="window.pwned=2">`,
      status: 'partial',
      startedAt: '2026-12-04T20:00:00.000Z',
      targets: [{ target: `/t/<b>x</b>`, error: `<iframe src="http://example.invalid">` }],
      components: [{ component: hostile, host: `h'<style>body{display:none}</style>`, status: 'failed', bytes: 0, durationMs: 5, error: `<&"'> ✓` }],
      warnings: ['<marquee>w</marquee>'],
    };
    const file = path.join(ws.dir, 'hostile.html');
    await writeFile(file, renderHtml(report, { backups: [{ name: '<svg onload=alert(1)>', time: '2026-12-04T19:00:00.000Z', bytes: 10, status: '<x>' }] }));
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(`file://${file}`);
    expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.locator('script, img, iframe, marquee, style:not(head style)').count()).toBe(0);
    expect(await page.innerText('#matrix th[scope=row]')).toBe(hostile);
    expect(await page.innerText('#matrix td')).toContain(`<&"'> ✓`);
    expect(dialogs).toEqual([]);
    expect(requests).toEqual([`file://${file}`]);
    await page.close();
  });
});
