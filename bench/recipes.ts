/** The recipes and the Ansible playbook the benchmarks run (written into the work dir). */

/** One host's whole data directory as one collect step; restore puts it back. */
export const BULK_RECIPE = `apiVersion: lsbackup/v1
kind: Recipe
metadata: { name: bulk, version: 1.0.0, description: one host's data directory }
spec:
  hosts: { group: bulk, run: all }
  vars: { data_dir: /nonexistent }
  backup:
    collect:
      - path: "{{vars.data_dir}}"
  restore:
    apply:
      # As root: restore keeps owners (tar --same-owner), which the data's group (root) needs.
      - files: "{{vars.data_dir}}"
        become: true
`;

/** What a cluster component looks like: a dump streamed from a command, plus its config tree. */
export const CLUSTER_RECIPE = `apiVersion: lsbackup/v1
kind: Recipe
metadata: { name: cluster, version: 1.0.0, description: a dump and configs per host }
spec:
  hosts: { group: cluster, run: all }
  vars: { dump: /nonexistent, configs: /nonexistent }
  detect: test -r {{vars.dump}}
  backup:
    snapshot:
      - name: dump
        run: cat {{vars.dump}}
        output: dump.sql
    collect:
      - path: "{{vars.configs}}"
`;

export const TRIVIAL_RECIPE = `apiVersion: lsbackup/v1
kind: Recipe
metadata: { name: trivial, version: 1.0.0, description: one tiny command per host }
spec:
  hosts: { group: cluster, run: all }
  backup:
    snapshot:
      - run: echo ok
        output: ok.txt
`;

/**
 * The older implementation's shape: per host a shell task writes the dump and a tarball of the
 * configs to a temp file, fetch copies both to the controller, then the temp files are removed.
 * gather_facts is off (faster than the original, which gathered facts).
 */
export function clusterPlaybook(dump: string, configs: string, dest: string): string {
  return `- hosts: cluster
  gather_facts: false
  vars:
    tmp: /tmp/lsb-bench-ansible-{{ inventory_hostname }}
  tasks:
    - name: dump
      shell: cat ${dump} > {{ tmp }}.sql
    - name: archive configs
      shell: tar czf {{ tmp }}-configs.tar.gz -C / ${configs.replace(/^\//, '')}
    - name: fetch dump
      fetch: { src: "{{ tmp }}.sql", dest: "${dest}/" }
    - name: fetch configs
      fetch: { src: "{{ tmp }}-configs.tar.gz", dest: "${dest}/" }
    - name: clean up
      file: { path: "{{ item }}", state: absent }
      loop: ["{{ tmp }}.sql", "{{ tmp }}-configs.tar.gz"]
`;
}
