/** A parsed Ansible inventory, with every host's variables already merged the way Ansible does. */

export type Vars = Record<string, unknown>;

export interface Host {
  /** Inventory hostname (the name Ansible uses, not necessarily an address). */
  name: string;
  /** Groups the host belongs to, directly or through `children`, without 'all'/'ungrouped'. */
  groups: string[];
  /**
   * Merged variables, lowest to highest precedence: all group vars, parent groups before
   * children, group_vars/ files, inventory host vars, host_vars/ files.
   */
  vars: Vars;
  /** Connection facts derived from vars (ansible_connection, ansible_host, ansible_port, ...). */
  connection: HostConnection;
}

export interface HostConnection {
  kind: 'local' | 'ssh';
  /** ansible_host, else the inventory name. */
  address: string;
  /** ansible_port, default 22. */
  port: number;
  /** ansible_user; undefined means the current user. */
  user?: string;
  /** ansible_ssh_private_key_file, with ~ expanded and relative paths resolved against the inventory dir. */
  privateKeyFile?: string;
  /** The inventory's key path when it does not exist here and privateKeyFile is the same file in the build dir. */
  privateKeyFileAsWritten?: string;
  /** ansible_ssh_common_args + ansible_ssh_extra_args, split like a shell would. */
  sshArgs: string[];
}

export interface Group {
  name: string;
  /** Hosts directly or through children, in inventory order. */
  hosts: string[];
  children: string[];
  vars: Vars;
}

export interface Inventory {
  /** File or directory the inventory was read from. */
  source: string;
  /** Directory that holds the inventory (where group_vars/ host_vars/ and ansible.cfg live). */
  baseDir: string;
  /** Hosts in inventory order. */
  hosts: Map<string, Host>;
  groups: Map<string, Group>;
  /** sha256 of the inventory's files, for metadata (which cluster shape made this backup). */
  digest: string;
}
