/**
 * CRIU runs as the owner of the sandbox's user namespace (the sandbox's own host uid), not as
 * host root: the launcher creates each user namespace as that uid (per-user kernel counters),
 * so only its owner holds every capability inside it, CAP_SYS_RESOURCE included (CRIU reads
 * each task's rlimits, which host root here cannot: its bounding set lacks that capability).
 * Root's own capabilities go with it as ambient ones, since ptracing the agent (non-dumpable,
 * its memory in the host's user namespace) needs CAP_SYS_PTRACE there.
 */
import { readFileSync } from 'node:fs';

/** Capability names by number, as setpriv(1) spells them. */
const CAPABILITIES = [
  'chown',
  'dac_override',
  'dac_read_search',
  'fowner',
  'fsetid',
  'kill',
  'setgid',
  'setuid',
  'setpcap',
  'linux_immutable',
  'net_bind_service',
  'net_broadcast',
  'net_admin',
  'net_raw',
  'ipc_lock',
  'ipc_owner',
  'sys_module',
  'sys_rawio',
  'sys_chroot',
  'sys_ptrace',
  'sys_pacct',
  'sys_admin',
  'sys_boot',
  'sys_nice',
  'sys_resource',
  'sys_time',
  'sys_tty_config',
  'mknod',
  'lease',
  'audit_write',
  'audit_control',
  'setfcap',
  'mac_override',
  'mac_admin',
  'syslog',
  'wake_alarm',
  'block_suspend',
  'audit_read',
  'perfmon',
  'bpf',
  'checkpoint_restore',
] as const;

/** The capabilities in a /proc status mask (hex), as setpriv's `+name,...` list. */
export function capabilityList(hexMask: string): string {
  const mask = BigInt(`0x${hexMask}`);
  return CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n)
    .map((name) => `+${name}`)
    .join(',');
}

/** This process's own bounding set: what it can hand on. */
export function ownCapabilities(status = readFileSync('/proc/self/status', 'utf8')): string {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (!hex) throw new Error('no CapBnd line in /proc/self/status');
  return capabilityList(hex);
}

/** The argv that runs [file, args] as `uid` (its own group, no others) with `caps` ambient. */
export function asNamespaceOwner(uid: number, caps: string, [file, args]: [string, string[]]): [string, string[]] {
  if (!Number.isSafeInteger(uid) || uid <= 0) throw new Error(`not a sandbox uid: ${uid}`);
  const id = String(uid);
  return [
    'setpriv',
    [
      '--reuid',
      id,
      '--regid',
      id,
      '--clear-groups',
      `--inh-caps=${caps}`,
      `--ambient-caps=${caps}`,
      '--',
      file,
      ...args,
    ],
  ];
}
