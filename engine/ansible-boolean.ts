/**
 * Ansible's boolean(): yes/on/1/true/t and no/off/0/false/f, any case (YAML 1.2's true/false are
 * among them). One rule for every yes/no lsbackup reads as text: ansible.cfg settings and a
 * step's rendered `when` (docs/recipes.md, "When a step runs").
 */
export function ansibleBoolean(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().toLowerCase();
  if (['y', 'yes', 'on', '1', 'true', 't', '1.0'].includes(s)) return true;
  if (['n', 'no', 'off', '0', 'false', 'f', '0.0'].includes(s)) return false;
  return undefined;
}

/** A rendered `when`: false when empty or one of Ansible's false words; anything else runs the step. */
export function whenHolds(rendered: string): boolean {
  return rendered.trim() !== '' && ansibleBoolean(rendered) !== false;
}
