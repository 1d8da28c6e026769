/**
 * Text made safe inside XML and HTML (JUnit and HTML run reports): the five markup characters as
 * entities, line breaks kept as character references (an attribute would fold them into spaces),
 * and characters XML 1.0 cannot hold at all (control characters, lone surrogates) replaced by
 * U+FFFD, so a step's odd output never makes the report unreadable.
 */
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\n': '&#10;', '\r': '&#13;' };

// eslint-disable-next-line no-control-regex -- these are exactly the characters XML 1.0 forbids
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function escapeMarkup(text: string): string {
  return text.replace(NOT_XML, '\ufffd').replace(/[&<>"'\n\r]/g, (c) => ENTITIES[c]!);
}
