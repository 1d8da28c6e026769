import { stringify } from 'yaml';
import { recipeSchema } from './schema.js';

/** The component name rule of `metadata.name`, taken from schemas/recipe.schema.json. */
export const RECIPE_NAME = new RegExp(recipeSchema.properties.metadata.properties.name.pattern);

export interface SkeletonOptions {
  name: string;
  group: string;
  /** The `$schema` modeline's path to schemas/recipe.schema.json, relative to the recipe file. */
  schemaPath: string;
}

/** One YAML scalar, quoted when YAML needs it (a group name is inventory input, never pasted raw). */
const scalar = (value: string) => stringify(value).trimEnd();

/**
 * A commented recipe that validates and runs as written: it backs up one data directory, so a
 * new component starts from a working round trip (its tests section proves it with `recipe test`)
 * and the author replaces the placeholders.
 * Every phase carries its one-line explanation (docs/recipes.md holds the full reference).
 */
export function recipeSkeleton({ name, group, schemaPath }: SkeletonOptions): string {
  // Var names allow no '-': prefix vars with the component so unrelated inventory vars stay out.
  const dataDir = `${name.replace(/-/g, '_')}_data_dir`;
  return `# yaml-language-server: $schema=${schemaPath}
# Recipe for ${name}. Check it with 'lsbackup validate <this file>'; the reference is docs/recipes.md.
apiVersion: lsbackup/v1
kind: Recipe
metadata:
  name: ${name} # the component: archive folder and --only name
  version: 0.1.0 # this recipe's own version; raise it when you change the recipe
  description: ${scalar(`What ${name} backs up (replace this line)`)}
  # appliesTo: ">=1 <2" # component versions this recipe handles, matched against spec.version's output
spec:
  hosts:
    group: ${scalar(group)} # the inventory group (or list of groups) the component lives on
    run: all # all: every host of the group; first: only the first host where detect succeeds
  vars: # defaults; an inventory variable of the same name or --var ${name}.<var>=<value> overrides them
    ${dataDir}: /var/lib/${name}
  # become: true # run the steps through sudo: true for root, or a user name
  detect: test -d {{vars.${dataDir}}} # exits 0 where the component is installed
  version: echo unknown # prints the component's version (recorded in metadata.json; matched against appliesTo)
  backup:
    pre: # runs first: flush, checkpoint or lock, so what follows is consistent
      - name: prepare
        run: "true"
    snapshot: # commands whose stdout streams into the archive (output), e.g. a database dump
      - name: list the data directory
        run: ls -lA {{vars.${dataDir}}}
        output: listing.txt
    collect: # files and directories copied into the archive as they are
      - name: data directory
        path: "{{vars.${dataDir}}}"
    post: # always runs, even after a failed step: unlock, restart, remove temporary files
      - name: finish
        run: "true"
  restore:
    pre: # runs first: e.g. stop the service
      - name: prepare
        run: "true"
    apply: # put the data back: a files step restores collected files, a run step with input gets an entry on stdin
      - files: "{{vars.${dataDir}}}"
    post: # always runs: e.g. start the service again
      - name: finish
        run: "true"
  # 'lsbackup recipe test <this file> -b <test inventory>' proves the recipe: seed, back up, verify,
  # destroy, restore, check. The steps change the component's data: run it on a test cluster only.
  tests:
    seed: # writes known data the backup covers
      - name: write a marker file
        run: mkdir -p {{vars.${dataDir}}} && echo lsbackup-recipe-test > {{vars.${dataDir}}}/lsbackup-recipe-test.txt
    destroy: # loses it, as a failure would
      - name: remove the marker file
        run: rm -f {{vars.${dataDir}}}/lsbackup-recipe-test.txt
    check: # exits 0 only when the restore brought it back
      - name: the marker file is back
        run: grep -qx lsbackup-recipe-test {{vars.${dataDir}}}/lsbackup-recipe-test.txt
`;
}
