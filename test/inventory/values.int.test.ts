import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireCommand } from '../helpers/prerequisites.js';
import { iniValue } from '../../engine/inventory/parse-ini.js';
import { shlexSplit } from '../../engine/inventory/shlex.js';

/**
 * INI values and host lines must read exactly as Ansible reads them. Python itself is the
 * oracle: ast.literal_eval (Ansible's _parse_value) and shlex.split (Ansible's host lines).
 */

const PY_VALUE = `
import ast, json, sys
out = []
for v in json.load(sys.stdin):
    try:
        r = ast.literal_eval(v)
        if isinstance(r, (tuple, set)): r = list(r)
    except (ValueError, SyntaxError):
        r = v
    out.append(r)
print(json.dumps(out))
`;
const PY_SHLEX = `
import shlex, json, sys
out = []
for v in json.load(sys.stdin):
    try: out.append(shlex.split(v, comments=True))
    except ValueError as e: out.append('error')
print(json.dumps(out))
`;

const values = [
  '1',
  '-7',
  '0x1f',
  '1_000',
  '1.5',
  '1e3',
  '010',
  'True',
  'False',
  'None',
  'true',
  'yes',
  "'quoted'",
  '"dq"',
  "'; rm -rf / #",
  '; rm -rf / #',
  "'a' 'b'",
  "'tab\\there'",
  "r'raw\\n'",
  "[1, 'two', [3]]",
  '(1,)',
  '(1)',
  "{'a': 1, 'b': [True]}",
  '{1, 2}',
  'a b',
  '1 # comment',
  'foo # comment',
  '-o StrictHostKeyChecking=no',
  '10.0.0.1',
  '/path/to/key',
  '',
  '[1,',
  "'\\x41\\101\\u00e9'",
];
const lines = [
  "web1 ansible_host=10.0.0.1 x='a b'",
  'h note="say \\"hi\\"" y=z#c',
  'h evil="\'; rm -rf / #"',
  'h a=b # trailing',
  'h a=\\ b',
  "h x='unterminated",
];

describe('INI values and host lines read like Python/Ansible', () => {
  beforeAll(() => requireCommand('python3', 'python3'));
  it('iniValue matches ast.literal_eval with Ansible fallback to the text', () => {
    const expected = JSON.parse(execFileSync('python3', ['-c', PY_VALUE], { input: JSON.stringify(values), encoding: 'utf8' })) as unknown[];
    values.forEach((v, i) => expect(iniValue(v), v).toEqual(expected[i]));
  });

  it('shlexSplit matches shlex.split(comments=True)', () => {
    const expected = JSON.parse(execFileSync('python3', ['-c', PY_SHLEX], { input: JSON.stringify(lines), encoding: 'utf8' })) as unknown[];
    lines.forEach((line, i) => {
      if (expected[i] === 'error') expect(() => shlexSplit(line, { comments: true }), line).toThrow();
      else expect(shlexSplit(line, { comments: true }), line).toEqual(expected[i]);
    });
  });
});
