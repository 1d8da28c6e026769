import { afterEach, describe, expect, it, vi } from 'vitest';
import { varOverrides } from '../../engine/recipes/var-overrides.js';

afterEach(() => vi.restoreAllMocks());

describe('--var values', () => {
  it('read like YAML scalars; one YAML would take for a tag or alias stays text, and nothing is printed', () => {
    // The yaml library prints a YAMLWarning quoting the value (`Unresolved tag: !x` and its line) on stderr.
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const vars = varOverrides(undefined, ['app.tagged=!unsafe value', 'app.alias=*x', 'app.port=5432', 'app.on=true'], undefined);
    expect(vars.app).toEqual({ tagged: '!unsafe value', alias: '*x', port: 5432, on: true });
    expect(warnings).not.toHaveBeenCalled();
  });
});
