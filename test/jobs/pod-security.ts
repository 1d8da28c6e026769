/**
 * The "restricted" Pod Security Standard (which includes "baseline"), rule by rule, as the
 * Kubernetes documentation "Pod Security Standards" (kubernetes.io/docs/concepts/security/
 * pod-security-standards/, policy version latest) lists them, applied to a pod spec. Why here and
 * not the real admission plugin: it runs inside kube-apiserver, and none runs on this machine
 * (kubectl is installed, but `--dry-run=server` needs an API server).
 */
type Spec = Record<string, any>;

/** Baseline: capabilities a container may add. Restricted narrows it to NET_BIND_SERVICE. */
const RESTRICTED_ADD = new Set(['NET_BIND_SERVICE']);
/** Restricted: the only volume types. */
const VOLUME_TYPES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);
/** Baseline: the sysctls a pod may set. */
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);

/** Every violation of the restricted level in a pod spec; empty when it passes. */
export function restrictedViolations(pod: Spec): string[] {
  const out: string[] = [];
  const podCtx: Spec = pod.securityContext ?? {};
  // Baseline: host namespaces.
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) if (pod[field]) out.push(`${field} must be unset or false`);
  // Restricted: volume types (baseline: no hostPath).
  for (const volume of pod.volumes ?? []) {
    const type = Object.keys(volume).find((k) => k !== 'name')!;
    if (!VOLUME_TYPES.has(type)) out.push(`volumes[${volume.name}]: ${type} is not an allowed volume type`);
  }
  // Baseline: sysctls.
  for (const s of podCtx.sysctls ?? []) if (!SAFE_SYSCTLS.has(s.name)) out.push(`securityContext.sysctls: ${s.name} is not a safe sysctl`);
  out.push(...contextViolations('securityContext', podCtx));
  const containers: Spec[] = [...(pod.initContainers ?? []), ...(pod.containers ?? []), ...(pod.ephemeralContainers ?? [])];
  for (const c of containers) {
    const where = `${(pod.initContainers ?? []).includes(c) ? 'initContainers' : 'containers'}[${c.name}]`;
    const ctx: Spec = c.securityContext ?? {};
    out.push(...contextViolations(`${where}.securityContext`, ctx));
    if (ctx.privileged) out.push(`${where}.securityContext.privileged must be unset or false`);
    if (ctx.procMount !== undefined && ctx.procMount !== 'Default') out.push(`${where}.securityContext.procMount must be Default`);
    for (const port of c.ports ?? []) if (port.hostPort) out.push(`${where}: hostPort ${port.hostPort} must be unset or 0`);
    // Restricted: no privilege escalation; run as non-root (pod or container); seccomp set (pod or container).
    if (ctx.allowPrivilegeEscalation !== false) out.push(`${where}.securityContext.allowPrivilegeEscalation must be false`);
    if ((ctx.runAsNonRoot ?? podCtx.runAsNonRoot) !== true) out.push(`${where}: runAsNonRoot must be true (pod or container)`);
    if (!(ctx.seccompProfile ?? podCtx.seccompProfile)) out.push(`${where}: seccompProfile must be RuntimeDefault or Localhost (pod or container)`);
    // Restricted: drop ALL, add at most NET_BIND_SERVICE.
    const caps: Spec = ctx.capabilities ?? {};
    if (!(caps.drop ?? []).includes('ALL')) out.push(`${where}.securityContext.capabilities.drop must include ALL`);
    for (const cap of caps.add ?? [])
      if (!RESTRICTED_ADD.has(cap)) out.push(`${where}.securityContext.capabilities.add: ${cap} (only NET_BIND_SERVICE is allowed)`);
  }
  return out;
}

/** Rules that hold for the pod's and each container's securityContext alike. */
function contextViolations(where: string, ctx: Spec): string[] {
  const out: string[] = [];
  if (ctx.windowsOptions?.hostProcess) out.push(`${where}.windowsOptions.hostProcess must be unset or false`);
  if (ctx.runAsNonRoot === false) out.push(`${where}.runAsNonRoot must not be false`);
  if (ctx.runAsUser === 0) out.push(`${where}.runAsUser must not be 0`);
  const seccomp = ctx.seccompProfile?.type;
  if (seccomp !== undefined && seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
    out.push(`${where}.seccompProfile.type: ${seccomp} (must be RuntimeDefault or Localhost)`);
  }
  const apparmor = ctx.appArmorProfile?.type;
  if (apparmor !== undefined && apparmor !== 'RuntimeDefault' && apparmor !== 'Localhost') out.push(`${where}.appArmorProfile.type: ${apparmor}`);
  const se = ctx.seLinuxOptions;
  if (se && (!SELINUX_TYPES.has(se.type ?? '') || se.user || se.role)) out.push(`${where}.seLinuxOptions: type must be a container type; user and role unset`);
  return out;
}
