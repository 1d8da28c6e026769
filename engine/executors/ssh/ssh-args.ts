/**
 * The few OpenSSH client options lsbackup honours from ansible_ssh_common_args /
 * ansible_ssh_extra_args (already split into words by the inventory parser).
 */

export interface JumpHost {
  user?: string;
  host: string;
  port: number;
  /** `-i` of a ProxyCommand ssh, when given. */
  privateKeyFile?: string;
}

export interface SshArgOptions {
  /** Lower-cased option name -> value, from `-o Name=value`, `-oName=value` and `-o Name value`. */
  options: Map<string, string>;
  /** Jump hosts in order (ProxyJump list, or the host of a `ssh -W %h:%p` ProxyCommand). */
  jumps: JumpHost[];
  /** An `-i` given directly in the args. */
  identityFile?: string;
}

export function parseSshArgs(args: readonly string[]): SshArgOptions {
  const options = new Map<string, string>();
  let identityFile: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-o' || (arg.startsWith('-o') && arg.length > 2)) {
      const spec = arg === '-o' ? (args[++i] ?? '') : arg.slice(2);
      const m = /^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/s.exec(spec);
      if (m) options.set(m[1]!.toLowerCase(), m[2]!.trim());
    } else if (arg === '-i') {
      identityFile = args[++i];
    } else if (arg === '-J') {
      options.set('proxyjump', args[++i] ?? '');
    }
  }
  const jumps: JumpHost[] = [];
  const proxyJump = options.get('proxyjump');
  if (proxyJump && proxyJump.toLowerCase() !== 'none') {
    for (const spec of proxyJump.split(',')) jumps.push(parseJumpSpec(spec.trim()));
  } else if (options.get('proxycommand')) {
    const jump = parseProxyCommand(options.get('proxycommand')!);
    if (jump) jumps.push(jump);
  }
  return { options, jumps, identityFile };
}

/** `[user@]host[:port]`, or `ssh://[user@]host[:port]`; IPv6 as `[::1]:port`. */
export function parseJumpSpec(spec: string): JumpHost {
  const m = /^(?:ssh:\/\/)?(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(spec);
  if (!m) throw new Error(`cannot read jump host '${spec}' (expected [user@]host[:port])`);
  return { user: m[1], host: m[2]!.replace(/^\[|\]$/g, ''), port: m[3] ? Number(m[3]) : 22 };
}

/**
 * Understands the usual bastion ProxyCommand, `ssh [-q] [-p port] [-i key] -W %h:%p [user@]host`.
 * Anything else returns undefined (the caller reports that it is unsupported).
 */
export function parseProxyCommand(command: string): JumpHost | undefined {
  const words = command
    .replace(/^["']|["']$/g, '')
    .trim()
    .split(/\s+/);
  if (!/(^|\/)ssh$/.test(words[0] ?? '') || !words.includes('-W')) return undefined;
  let port: number | undefined;
  let user: string | undefined;
  let privateKeyFile: string | undefined;
  let destination: string | undefined;
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-p') port = Number(words[++i]);
    else if (w === '-l') user = words[++i];
    else if (w === '-i') privateKeyFile = words[++i];
    else if (w === '-o') {
      const opt = words[++i] ?? '';
      const pm = /^port[= ](\d+)$/i.exec(opt);
      if (pm) port = Number(pm[1]);
    } else if (['-W', '-F', '-c', '-m', '-b', '-E'].includes(w)) i++;
    else if (!w.startsWith('-')) destination = w;
  }
  if (!destination) return undefined;
  const jump = parseJumpSpec(destination);
  return { ...jump, user: jump.user ?? user, port: port ?? jump.port, privateKeyFile };
}
