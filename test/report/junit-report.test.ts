/**
 * The JUnit form of a run report, read back with a real XML parser: whatever the names and
 * reasons hold (markup characters, line breaks, non-ASCII, control characters XML cannot carry),
 * the file parses and says the same thing.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { renderJunit } from '../../engine/report/junit-report.js';
import type { RunReport } from '../../engine/report/run-report.js';

// htmlEntities: character references (&#10;) are decoded, as XML requires.
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', htmlEntities: true, isArray: (n) => ['testsuite', 'testcase'].includes(n) });

const base: RunReport = {
  job: 'nightly',
  cluster: 'shop',
  status: 'partial',
  startedAt: '2026-12-04T20:00:00.000Z',
  durationMs: 4200,
  targets: [],
  components: [],
  warnings: [],
};

describe('renderJunit', () => {
  it('keeps markup, line breaks and non-ASCII text of names and reasons; replaces what XML cannot hold', () => {
    const reason = `line one <&"'>\nzweite Zeile: Grüße ✓ \u0007bell`;
    const xml = renderJunit({ ...base, components: [{ component: `a<"&'>`, host: 'hôst-1', status: 'failed', bytes: 0, durationMs: 1500, error: reason }] });
    expect(XMLValidator.validate(xml)).toBe(true);
    const [suite] = parser.parse(xml).testsuites.testsuite;
    expect(suite.name).toBe(`a<"&'>`);
    const [testcase] = suite.testcase;
    expect(testcase).toMatchObject({ classname: `a<"&'>`, name: 'hôst-1', time: '1.500' });
    const kept = `line one <&"'>\nzweite Zeile: Grüße ✓ \ufffdbell`;
    expect(testcase.failure.message).toBe(kept);
    expect(testcase.failure['#text']).toBe(kept);
  });

  it('a run that failed as a whole is the failed test case lsbackup/run, next to the components that ran', () => {
    const xml = renderJunit({
      ...base,
      status: 'failed',
      error: 'Target /backups: disk full',
      components: [{ component: 'app', host: 'web1', status: 'success', bytes: 6, durationMs: 10 }],
    });
    const { testsuites } = parser.parse(xml);
    expect(testsuites).toMatchObject({ tests: '2', failures: '1', skipped: '0', time: '4.200' });
    expect(testsuites.testsuite.map((s: { name: string }) => s.name)).toEqual(['app', 'lsbackup']);
    expect(testsuites.testsuite[1].testcase[0]).toMatchObject({ classname: 'lsbackup', name: 'run', failure: { message: 'Target /backups: disk full' } });
  });
});
