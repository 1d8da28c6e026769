import type { Problem } from '../errors.js';
import { positionOf, type YamlSource } from '../schema/index.js';
import { SLACK_TEMPLATE_NAMES, slackTemplateProblem } from '../notify/slack-text.js';

/** Every Slack notification's `template`, checked at load time: a misspelt name is found by `config validate`, not by the night's failure. */
export function notificationTemplateProblems(source: YamlSource): Problem[] {
  // Read from the document, as the schedules are (config/cron.ts): reported with the schema's problems.
  const doc = source.doc.toJS() as { notifications?: unknown; jobs?: Record<string, { notifications?: unknown } | null> } | null;
  const lists: (string | number)[][] = [['notifications'], ...Object.keys(doc?.jobs ?? {}).map((name) => ['jobs', name, 'notifications'])];
  return lists.flatMap((at) => {
    const list = at.reduce<unknown>((node, key) => (node as Record<string, unknown> | null | undefined)?.[key], doc);
    if (!Array.isArray(list)) return [];
    return list.flatMap((n: { type?: unknown; template?: unknown } | null, i) => {
      if (n?.type !== 'slack' || typeof n.template !== 'string') return [];
      const why = slackTemplateProblem(n.template);
      if (!why) return [];
      const where = [...at, i, 'template'];
      return [
        {
          file: source.file,
          ...positionOf(source, where),
          message: `'${at.join('.')}[${i}].template' cannot be rendered: ${why}`,
          hint: `the names a Slack template may use: ${SLACK_TEMPLATE_NAMES.join(', ')}`,
        },
      ];
    });
  });
}
