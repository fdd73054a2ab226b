/**
 * The QEMU command line of every mitos microVM. Boot, restore and fork all use this one
 * function: migration only works between processes with the same machine and devices, so
 * the only things that vary are the RAM file and its sharing, the disk, and -incoming.
 *
 * Every host channel is an inherited socketpair (fd numbers below), never a path: nothing on
 * the host filesystem can be connected to, and the process needs no writable directory.
 */
import type { Accelerator } from './accel.js';

/** File descriptors QEMU inherits from the engine. */
export const FD = { console: 1, agent: 3, qmp: 4, migrateIn: 5 } as const;

export interface MachineSpec {
  accel: Accelerator;
  memMiB: number;
  vcpus: number;
  vmlinux: string;
  initramfs: string;
  /** Host TSC kHz for a TCG guest (its TSC runs at the host's rate; calibration fails there). */
  tscKhz?: number;
}

export interface LaunchSpec {
  machine: MachineSpec;
  /** Guest RAM backing file (on /dev/shm). */
  ramFile: string;
  /** share=on: guest writes go to the file (a template being built, a fork being materialized);
   *  share=off: a private copy-on-write mapping of it (every sandbox). */
  shareRam: boolean;
  /** qcow2 overlay the guest's /dev/vda writes to. */
  disk: string;
  /** Start with -incoming defer (a restore target) instead of booting. */
  incoming: boolean;
  name: string;
}

export function kernelCmdline(m: MachineSpec): string {
  const args = [
    'console=ttyS0',
    'quiet',
    'loglevel=1',
    'panic=-1',
    'reboot=t',
    'rdinit=/init',
    'random.trust_cpu=on',
    'i8042.noaux',
    'i8042.nokbd',
    'i8042.nopnp',
    '8250.nr_uarts=1',
  ];
  // Under TCG the guest cannot calibrate its TSC (no PIT/HPET reference with ACPI on) and
  // hangs; its TSC is the host's, so hand it the host frequency.
  if (m.accel === 'tcg' && m.tscKhz) args.push(`tsc_early_khz=${m.tscKhz}`, 'tsc=reliable');
  return args.join(' ');
}

export function qemuArgs(spec: LaunchSpec): string[] {
  const m = spec.machine;
  const args = [
    '-name',
    `${spec.name},debug-threads=on`,
    // microvm: no PCI, no firmware, virtio-mmio devices. ACPI is on because the cloud kernel
    // discovers virtio-mmio devices only through ACPI (no virtio_mmio.device= support).
    '-M',
    'microvm,pit=on,pic=on,rtc=on,isa-serial=on,acpi=on,x-option-roms=off',
    '-accel',
    m.accel === 'kvm' ? 'kvm' : 'tcg,tb-size=64',
    '-cpu',
    m.accel === 'kvm' ? 'host' : 'max',
    '-smp',
    String(m.vcpus),
    '-m',
    `${m.memMiB}M`,
    '-object',
    `memory-backend-file,id=ram0,size=${m.memMiB}M,mem-path=${spec.ramFile},share=${spec.shareRam ? 'on' : 'off'}`,
    '-machine',
    'memory-backend=ram0',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-kernel',
    m.vmlinux,
    '-initrd',
    m.initramfs,
    '-append',
    kernelCmdline(m),
    '-chardev',
    `socket,id=console,fd=${FD.console}`,
    '-serial',
    'chardev:console',
    '-drive',
    `id=root,file=${spec.disk},format=qcow2,if=none,cache=writeback,discard=unmap`,
    '-device',
    'virtio-blk-device,drive=root',
    '-device',
    'virtio-serial-device,max_ports=2',
    '-chardev',
    `socket,id=agent,fd=${FD.agent}`,
    '-device',
    'virtserialport,chardev=agent,name=mitos.agent',
    '-object',
    'rng-builtin,id=rng0',
    '-device',
    'virtio-rng-device,rng=rng0',
    '-chardev',
    `socket,id=qmp,fd=${FD.qmp}`,
    '-mon',
    'chardev=qmp,mode=control',
    // Guest networking is off: no NIC at all (-nodefaults already drops the default one).
    '-nic',
    'none',
    // Migration only ever uses fds (incoming: inherited fd 5; outgoing: one passed with getfd),
    // so exec: URIs, and with them spawning, can be denied.
    '-sandbox',
    'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    '-msg',
    'timestamp=on',
  ];
  if (spec.incoming) args.push('-incoming', 'defer');
  return args;
}
