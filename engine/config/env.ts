import { visit, type Scalar } from 'yaml';
import type { Problem } from '../errors.js';
import type { YamlSource } from '../schema/index.js';

/** ${NAME}, ${NAME:-default}, and $${...} (a literal "${...}"). */
const REFERENCE = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Expands environment references in every string scalar of a parsed config, in place, so the
 * schema then validates the values the run will use and positions stay those of the file.
 * An unset variable without a default is a problem at its own line:col.
 */
export function expandEnvReferences(source: YamlSource, env: NodeJS.ProcessEnv = process.env): Problem[] {
  const problems: Problem[] = [];
  visit(source.doc, {
    Scalar(key, node: Scalar) {
      // Keys name things; only values are expanded.
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      node.value = node.value.replace(REFERENCE, (whole, escaped: string, name: string, fallback: string | undefined) => {
        if (escaped) return whole.slice(1);
        const value = env[name];
        if (value !== undefined && value !== '') return value;
        if (fallback !== undefined) return fallback;
        problems.push({
          file: source.file,
          ...referencePosition(source, node, whole),
          message: `environment variable '${name}' is not set`,
          hint: `set it, or give a default: \${${name}:-value}`,
        });
        return whole;
      });
    },
  });
  return problems;
}

/** The reference's own position when it appears verbatim in the source, else the scalar's. */
function referencePosition(source: YamlSource, node: Scalar, reference: string): { line: number; col: number } {
  const [start = 0, end = start] = node.range ?? [];
  const at = source.text.slice(start, end).indexOf(reference);
  return source.lineCounter.linePos(at >= 0 ? start + at : start);
}
