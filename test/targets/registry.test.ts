import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { openTarget, targetFactories, targetOptionsSchemas } from '../../targets/registry.js';

const NOT_PLUGINS = new Set(['types.ts', 'registry.ts']);

describe('target registry', () => {
  it('registers exactly the plugin files in targets/, each under the scheme it exports', async () => {
    const files = (await readdir(new URL('../../targets/', import.meta.url))).filter((f) => f.endsWith('.ts') && !NOT_PLUGINS.has(f));
    const schemes: string[] = [];
    for (const file of files) {
      const plugin = (await import(`../../targets/${file}`)) as Record<string, unknown>;
      expect(typeof plugin.scheme, `${file} exports its scheme`).toBe('string');
      schemes.push(plugin.scheme as string);
      expect(Object.values(plugin), `${file} provides the factory registered for '${plugin.scheme}'`).toContain(targetFactories.get(plugin.scheme as string));
      expect(Object.values(plugin), `${file} provides the options schema registered for '${plugin.scheme}'`).toContain(targetOptionsSchemas.get(plugin.scheme as string));
    }
    expect(schemes.sort()).toEqual([...targetFactories.keys()].sort());
    expect(schemes.sort()).toEqual([...targetOptionsSchemas.keys()].sort());
  });

  it('opens bare paths and file:// as local, rejects unknown schemes with ENOTARGET', () => {
    expect(openTarget('/backups').uri).toBe('/backups');
    expect(openTarget('file:///backups').uri).toBe('file:///backups');
    expect(openTarget('nfs:///mnt/b').uri).toBe('nfs:///mnt/b');
    expect(() => openTarget('ftp://host/x')).toThrow(expect.objectContaining({ code: 'ENOTARGET' }));
  });
});
