/**
 * Firecracker adapter: THIN AND UNTESTED HERE. No Debian package ships Firecracker and
 * /dev/kvm on our hosts is kvm_pvm (Firecracker has no TCG), so nothing in this file has run
 * on our CI. It exists to show, and keep honest, how the microvm model maps onto Firecracker
 * when a `firecracker` binary is on PATH and /dev/kvm runs stock kernels; the QEMU path
 * (vm.ts, fork.ts) is the implementation the engine uses.
 *
 * The mapping:
 * - boot: PUT /boot-source (the same PVH vmlinux and initramfs; Firecracker boots ELF vmlinux
 *   directly), /drives (the raw template image read-only + a per-VM writable copy, since
 *   Firecracker has no qcow2), /machine-config (vcpus, mem), and a vsock device: Firecracker
 *   has no virtio-serial, its host channel is vsock over a unix socket (no vhost needed).
 *   The guest agent would run the same mux over a vsock stream (kernel command line
 *   `mitos.transport=vsock`; not implemented in guest-boot.c yet).
 * - snapshot: PATCH /vm {state: Paused}, PUT /snapshot/create {snapshot_type: Full,
 *   snapshot_path, mem_file_path}.
 * - restore: a fresh process, PUT /snapshot/load {snapshot_path, mem_backend: {backend_type:
 *   File, backend_path}, resume_vm: true}. Firecracker maps the memory file MAP_PRIVATE: the
 *   same copy-on-write sharing as QEMU share=off, and the same hazard (a parent must not keep
 *   running on a file its children map), handled the same way.
 * - confinement: Firecracker's own `jailer` (chroot, uid/gid, cgroups, seccomp) replaces the
 *   setpriv + cgroup + -sandbox wrapper used for QEMU.
 * - kernel: Firecracker before 1.8 announces its virtio-mmio devices on the kernel command
 *   line, which Debian's cloud kernel ignores (no CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES): it needs
 *   Firecracker's ACPI device discovery (1.8+) or a custom guest kernel.
 *
 * The engine only reports a firecracker binary it finds (see MicroVmEngine.open) and keeps
 * using QEMU.
 */
import { request } from 'node:http';
import { which } from '../../host/which.js';

/** The firecracker binary, when one is installed. */
export function firecrackerBinary(): string | undefined {
  return which(process.env.MITOS_FIRECRACKER ?? 'firecracker');
}

export interface FirecrackerMachine {
  vmlinux: string;
  initramfs: string;
  bootArgs: string;
  rootImage: string;
  vcpus: number;
  memMiB: number;
  /** Host unix socket Firecracker exposes the guest's vsock on. */
  vsockPath: string;
}

/** One call to Firecracker's HTTP API over its unix socket. */
export function apiCall(
  apiSocket: string,
  method: 'PUT' | 'PATCH' | 'GET',
  path: string,
  body?: unknown,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath: apiSocket,
        method,
        path,
        headers: data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          if ((res.statusCode ?? 500) >= 300)
            reject(new Error(`firecracker ${method} ${path}: ${res.statusCode} ${text}`));
          else resolve(text);
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Configure and start a VM in a firecracker process listening on `apiSocket`. */
export async function bootFirecracker(apiSocket: string, m: FirecrackerMachine): Promise<void> {
  await apiCall(apiSocket, 'PUT', '/boot-source', {
    kernel_image_path: m.vmlinux,
    initrd_path: m.initramfs,
    boot_args: m.bootArgs,
  });
  await apiCall(apiSocket, 'PUT', '/drives/root', {
    drive_id: 'root',
    path_on_host: m.rootImage,
    is_root_device: false,
    is_read_only: false,
  });
  await apiCall(apiSocket, 'PUT', '/machine-config', { vcpu_count: m.vcpus, mem_size_mib: m.memMiB });
  await apiCall(apiSocket, 'PUT', '/vsock', { guest_cid: 3, uds_path: m.vsockPath });
  await apiCall(apiSocket, 'PUT', '/actions', { action_type: 'InstanceStart' });
}

/** Pause and write a full snapshot (device state + guest memory file). */
export async function snapshotFirecracker(apiSocket: string, snapshotPath: string, memPath: string): Promise<void> {
  await apiCall(apiSocket, 'PATCH', '/vm', { state: 'Paused' });
  await apiCall(apiSocket, 'PUT', '/snapshot/create', {
    snapshot_type: 'Full',
    snapshot_path: snapshotPath,
    mem_file_path: memPath,
  });
}

/** Restore a fresh firecracker process from a snapshot, memory mapped copy-on-write. */
export async function restoreFirecracker(apiSocket: string, snapshotPath: string, memPath: string): Promise<void> {
  await apiCall(apiSocket, 'PUT', '/snapshot/load', {
    snapshot_path: snapshotPath,
    mem_backend: { backend_type: 'File', backend_path: memPath },
    resume_vm: true,
  });
}
