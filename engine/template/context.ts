import type { Host, Inventory } from '../inventory/types.js';

/** What a template sees of the host it runs on. */
export interface TemplateHost {
  name: string;
  address: string;
  port: number;
  user?: string;
  groups: string[];
  vars: Record<string, unknown>;
}

/** Everything a recipe template can see. `secrets` is reached only through the `secret` helper. */
export interface TemplateContext {
  host: TemplateHost;
  /** Recipe vars: the recipe's defaults merged with overrides from inventory/config. */
  vars: Record<string, unknown>;
  inventory: { groups: Record<string, string[]>; hosts: string[] };
  backup: { id: string; time: string; timestamp: number };
  recipe: { name: string; version: string };
  /**
   * The run as a whole: `components.<name>` is true for each component this run backs up or
   * restores (after --only/--skip), so a recipe can leave to another one what that one does.
   */
  run: { components: Record<string, boolean> };
  /** Pre-resolved secret values by name (resolve `secretNames(template)` first). */
  secrets: Map<string, string>;
}

/**
 * The names a template can see, as data for the static check (engine/recipes/template-check.ts): 'exact'
 * names are used as they are, 'open' ones may be looked inside (`host.vars.anything`). Checked
 * against TemplateContext by the compiler: a name added there must be listed here. `vars` is
 * checked against each recipe's own spec.vars; `secrets` is reached only through the helper.
 */
export const TEMPLATE_NAMES = {
  host: { name: 'exact', address: 'exact', port: 'exact', user: 'exact', groups: 'open', vars: 'open' },
  inventory: { groups: 'open', hosts: 'open' },
  backup: { id: 'exact', time: 'exact', timestamp: 'exact' },
  recipe: { name: 'exact', version: 'exact' },
  run: { components: 'open' },
} as const satisfies { [Top in Exclude<keyof TemplateContext, 'vars' | 'secrets'>]: { [Name in keyof TemplateContext[Top]]-?: 'exact' | 'open' } };

/** Where a template is rendered, for error messages. */
export interface RenderSite {
  recipe: string;
  step: string;
  host: string;
}

export function templateHost(host: Host): TemplateHost {
  const { address, port, user } = host.connection;
  return { name: host.name, address, port, user, groups: host.groups, vars: host.vars };
}

export function templateInventory(inventory: Inventory): TemplateContext['inventory'] {
  const groups: Record<string, string[]> = {};
  for (const [name, group] of inventory.groups) groups[name] = group.hosts;
  return { groups, hosts: [...inventory.hosts.keys()] };
}
