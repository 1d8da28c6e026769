import type { Become } from './types.js';

/**
 * The argv that runs a shell command line as the become user. Shared by every executor so
 * that local and SSH hosts escalate the same way: non-interactive sudo, `-S` reading the
 * password from stdin only when one is configured.
 */
export function becomeArgv(command: string, become: Become | undefined): string[] {
  if (!become) return ['sh', '-c', command];
  const sudo = become.password === undefined ? ['sudo', '-n'] : ['sudo', '-S', '-p', ''];
  return [...sudo, '-H', '-u', become.user, '--', 'sh', '-c', command];
}

/** sudo refusals we turn into one clear line instead of a raw stderr dump. */
export function explainSudoFailure(stderr: string, host: string, become: Become | undefined): string | undefined {
  if (!become) return undefined;
  if (/a password is required|a terminal is required/i.test(stderr)) {
    return `sudo on ${host} needs a password for become user '${become.user}': set ansible_become_password (a secret) or allow NOPASSWD`;
  }
  if (/not in the sudoers|is not allowed to execute|may not run sudo/i.test(stderr)) {
    return `the login user on ${host} may not use sudo to become '${become.user}'`;
  }
  if (/incorrect password|Sorry, try again/i.test(stderr)) {
    // `ansible_become_password: !vault |` reads as the vault's text, which lsbackup does not decrypt.
    if (become.password?.startsWith('$ANSIBLE_VAULT;')) {
      return `sudo on ${host} rejected the become password: it is encrypted with ansible-vault (!vault), which lsbackup does not decrypt; give ansible_become_password decrypted in a host_vars or group_vars file only this user can read, or allow NOPASSWD`;
    }
    return `sudo on ${host} rejected the become password`;
  }
  return undefined;
}
