import type { Problem } from '../errors.js';
import { positionOf, type YamlSource } from '../schema/index.js';
import { SLACK_TEMPLATE_NAMES, slackTemplateProblem } from '../notify/slack-text.js';
import { notificationsIn } from './notification-lists.js';

/** Every Slack notification's `template`, checked at load time: a misspelt name is found by `config validate`, not by the night's failure. */
export function notificationTemplateProblems(source: YamlSource): Problem[] {
  return notificationsIn(source).flatMap(({ at, index: i, notification: n }) => {
    if (n.type !== 'slack' || typeof n.template !== 'string') return [];
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
}
