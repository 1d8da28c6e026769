import { createHash } from 'node:crypto';

/** Identifies a schema's content: a build-time validator is used only for the schema it was built from. */
export function schemaDigest(schema: object): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex');
}
