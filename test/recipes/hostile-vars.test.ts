/**
 * Every var of every shipped recipe, and every host var its commands read, may come from an
 * inventory, a config or --var: set to a hostile value (quotes, `$(…)`, backquotes, a newline,
 * spaces), every command of every phase still renders through the engine, with the value as
 * shell-quoted words, never raw, unless the var is a command by design (a service command, a
 * shell function: docs/recipes.md, "Service commands as vars"). A var with a number default
 * may only fail the render (a value where only a plain word or number can stand, refused before
 * anything runs: test/template/render.test.ts runs those places in sh).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLsError } from '../../engine/errors.js';
import { loadRecipes, templatedStrings, type LoadedRecipe } from '../../engine/recipes/index.js';
import { parseTemplate, renderTemplate, secretNames, shellQuote, templateReferences, type TemplateContext } from '../../engine/template/index.js';

const shipped = await loadRecipes([join(import.meta.dirname, '..', '..', 'recipes')]);

const HOSTILE = `/a b'"$(touch /tmp/lsb-canary)\`touch /tmp/lsb-canary\`\n;x`;

/** Vars that hold shell commands or functions, inserted raw on purpose ({{{…}}}). */
const COMMANDS: Record<string, string[]> = {
  elasticsearch: ['elasticsearch_restart_command'],
  grafana: ['grafana_stop_command', 'grafana_start_command'],
  haproxy: ['haproxy_reload_command'],
  kafka: ['kafka_client', 'kafka_service_start', 'kafka_service_stop', 'kafka_service_status', 'kafka_test_read_marker', 'kafka_version_command'],
  kibana: ['kibana_client', 'kibana_restart_command'],
  kubernetes: ['k8s_pod_container', 'k8s_etcdctl_lookup', 'k8s_nfs_reach', 'k8s_own_work', 'k8s_restore_pre', 'k8s_restore_post', 'k8s_velero_args'],
  'kubernetes-volumes': ['k8s_node_volumes'],
  prometheus: ['prometheus_stop_command', 'prometheus_start_command'],
  rabbitmq: ['rabbitmqctl', 'rabbitmq_restart_command'],
  zookeeper: ['zk_service_start', 'zk_service_stop', 'zk_answers', 'zk_version_command', 'kafka_service_status', 'kafka_service_stop', 'kafka_service_start'],
};

const SHELL_KEYS = new Set(['run', 'detect', 'version', 'path']);

function shellTemplates(loaded: LoadedRecipe) {
  // ['spec', 'detect'] or ['spec', section, phase, index, key, …]
  return templatedStrings(loaded.recipe).filter((t) => SHELL_KEYS.has(String(t.path.length >= 5 ? t.path[4] : t.path[t.path.length - 1])));
}

/** The names that `texts` read under `root`: ['vars'] gives the x of every {{vars.x…}}. */
function referencedNames(texts: ReadonlyArray<{ text: string }>, root: string[]): Set<string> {
  const names = new Set<string>();
  for (const { text } of texts) {
    for (const ref of templateReferences(parseTemplate(text))) {
      if (ref.kind !== 'path') continue;
      const name = ref.parts[root.length];
      if (name && root.every((part, i) => ref.parts[i] === part)) names.add(name);
    }
  }
  return names;
}

function hostVarNames(loaded: LoadedRecipe): string[] {
  return [...referencedNames(shellTemplates(loaded), ['host', 'vars'])];
}

function context(loaded: LoadedRecipe, vars: Record<string, unknown>, hostVars: Record<string, unknown>): TemplateContext {
  const { recipe } = loaded;
  const groups = ([] as string[]).concat(recipe.spec.hosts.group);
  return {
    host: { name: 'h1', address: '192.0.2.1', port: 22, user: 'admin', groups, vars: hostVars },
    vars,
    inventory: { groups: Object.fromEntries(groups.map((g) => [g, ['h1']])), hosts: ['h1'] },
    backup: { id: '00000000-0000-4000-8000-000000000000', time: '2000-01-01T00:00:00.000Z', timestamp: 946684800000 },
    recipe: { name: recipe.metadata.name, version: recipe.metadata.version },
    run: { components: {} },
    secrets: new Map(),
  };
}

describe('hostile values in every shipped recipe', () => {
  for (const loaded of shipped) {
    const name = loaded.recipe.metadata.name;
    const defaults = Object.fromEntries(Object.entries(loaded.recipe.spec.vars ?? {}).map(([k, v]) => [k, v ?? 'set-by-the-run']));
    const hostDefaults = Object.fromEntries(hostVarNames(loaded).map((k) => [k, 'placeholder']));
    const cases = [
      ...Object.keys(defaults).map((k) => ({
        label: `vars.${k}`,
        name: k,
        vars: { ...defaults, [k]: Array.isArray(defaults[k]) ? [HOSTILE] : HOSTILE },
        hostVars: hostDefaults,
      })),
      ...Object.keys(hostDefaults).map((k) => ({ label: `host.vars.${k}`, name: k, vars: defaults, hostVars: { ...hostDefaults, [k]: HOSTILE } })),
    ];
    it(`${name}: every command renders with any one value hostile, quoted as words`, () => {
      const problems: string[] = [];
      for (const c of cases) {
        const ctx = context(loaded, c.vars, c.hostVars);
        for (const { path, text } of shellTemplates(loaded)) {
          ctx.secrets = new Map(secretNames(text).map((s) => [s, 'placeholder']));
          let command: string;
          try {
            command = renderTemplate(text, ctx, { recipe: name, step: path.join('.'), host: 'h1' });
          } catch (e) {
            const numeric = typeof defaults[c.name] === 'number' && c.label.startsWith('vars.');
            if (!(numeric && isLsError(e) && /stands .* in this command, where shell quoting does not work/.test(String(e.details.message)))) {
              problems.push(`${c.label} in ${path.join('.')}: ${(e as Error).message}`);
            }
            continue;
          }
          const raw = command.split(shellQuote(HOSTILE)).join('').includes('$(touch /tmp/lsb-canary)');
          if (raw && !(COMMANDS[name] ?? []).includes(c.name) && !text.includes(`{{json vars.${c.name}}}`)) {
            problems.push(`${c.label} in ${path.join('.')}: inserted raw`);
          }
        }
      }
      expect(problems).toEqual([]);
    });
  }
});

/**
 * A var is a documented knob: one that no template of its recipe reads does nothing when an
 * operator sets it (postgresql's `pg_os_user` was such a var, while the commands ran as the
 * recipe's fixed `become: postgres`).
 */
describe('every var of every shipped recipe is read by the recipe', () => {
  for (const loaded of shipped) {
    it(loaded.recipe.metadata.name, () => {
      const read = referencedNames(templatedStrings(loaded.recipe), ['vars']);
      expect(Object.keys(loaded.recipe.spec.vars ?? {}).filter((name) => !read.has(name))).toEqual([]);
    });
  }
});
