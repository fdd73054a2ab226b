/**
 * Renders RELIABILITY.md at the repository root from the suites' recorded figures. Kept as
 * plain string building: the document is a table of what was tried and what it cost.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Counter, SuiteFigures } from './figures.js';

export const RELIABILITY_PATH = join(dirname(fileURLToPath(import.meta.url)), '../../../RELIABILITY.md');

const TOTALS: Array<[Counter, string]> = [
  ['attacks', 'attacks tried (hostile code, other tenants, local host users)'],
  ['requests_fuzzed', 'hostile HTTP requests sent (fuzzing and auth)'],
  ['faults_injected', 'faults injected (kill -9, disk full)'],
  ['load_requests', 'requests under load'],
  ['leaks_found', 'leaks found (mounts, loop devices, cgroups, processes)'],
];

/** Known limits, stated once here so every rendering carries them. */
const WEAKNESSES = [
  'Disk quotas need btrfs simple quotas (Linux >= 6.7). On older kernels a `disk_mb` request is refused with `host_unsupported`. A sandbox without `disk_mb` is bounded only by the volume it shares with every other sandbox: filling it gives all of them ENOSPC until space is freed (the host filesystem itself is not filled beyond the image size).',
  "The volume is a sparse image on the state directory's filesystem. Creates, forks, pooled launches and API file writes are refused below 512 MiB free there, but writes made by programs inside a sandbox are not gated: if the host filesystem fills up (for any reason), such a write can fail at btrfs commit with EIO and btrfs forces the whole volume read-only until it is remounted (reproduced on a full tmpfs, see the disk-full suite). A preallocated image (fallocate, mounted without discard) would close this at the cost of reserving the volume up front.",
  'Acknowledged file writes survive a server crash (kill -9, tested). They are not guaranteed to survive a host crash or power loss: the agent renames without fsync and the volume is mounted nobarrier.',
  'Which sandboxes carry a disk limit is kept in memory; after a restart, deleting a limited sandbox that sits at its limit goes through the slow path (lift the limit after the first delete fails), which is not exercised by this suite.',
  'A sandbox at its pids limit cannot get a worker forked by its own agent, so API calls to that sandbox fail until some of its tasks exit; terminate always works (host side).',
  'The sandbox sees its own mount table (/proc/self/mountinfo), which names the btrfs subvolume (`/sandboxes/<id>`) and the state directory path of the read-only kernels bind mount. No file outside the sandbox is reachable through it, but the path is disclosed.',
  'Sandbox root is root in its own user namespace: it may mount tmpfs, proc and sysfs inside its own namespaces and create nested user namespaces. Every attempt to use them to reach the host failed, but the kernel attack surface is that of rootless containers (narrowed by the default seccomp filter), not of a VM.',
  "Per-sandbox tokens are only as good as the verifier the deployment plugs in; the suite tests the server's enforcement with an HMAC verifier of its own, since the standalone server issues none.",
  'CPU and latency figures come from a shared 2-core machine on which other test suites may run at the same time.',
];

/**
 * What no hardening of a namespaces engine can close, and what the microVM engine (a kernel
 * per sandbox) adds. Rendered in every RELIABILITY.md.
 */
const OUT_OF_REACH = [
  "One kernel for every tenant: a kernel bug reachable from a user namespace (the syscalls the seccomp filter keeps: ordinary file systems, networking in the sandbox's own netns, nested user namespaces, tmpfs/proc/sysfs mounts) is a host compromise. The filter narrows this surface; it cannot remove it.",
  'Kernel-global resources without a per-namespace or per-uid limit stay shared: page cache and dentry/inode caches, kernel memory not charged to cgroup v1 memory (this host), entropy, the scheduler, disk and memory bandwidth. A noisy tenant slows others even inside its cgroup limits.',
  "Side channels across tenants on one CPU (cache timing, speculative execution) are only as closed as the host kernel's mitigations.",
  'On this cgroup v1 host the sandbox joins every hierarchy, but cgroup v1 charges less kernel memory than v2; the unified (v2) tree here carries no controllers.',
  'Every sandbox and fork of a template reads the template’s files from one set of inodes (the shared read-only lower layer; this is what keeps one copy in the page cache). A tenant can therefore tell whether a template file is already cached (by timing a read, or `mincore` on a mapping of it), i.e. whether some other sandbox recently used it. Only the template’s own files are shared this way, never a sandbox’s writes. Every storage backend (btrfs and the overlay fallback) now gives each sandbox its own host uid range.',
  'The microVM engine (`--engine microvm`) gives each sandbox its own kernel: keyrings, ucounts, io_uring, perf, bpf and every other kernel surface are per VM, and a guest kernel bug stays in the guest. What it adds to the host is the VMM (QEMU) process itself; what it costs is boot and memory (docs/microvm-bench.md).',
];

export function renderReliability(suites: readonly SuiteFigures[], path = RELIABILITY_PATH): void {
  writeFileSync(path, renderMarkdown(suites));
}

export function renderMarkdown(suites: readonly SuiteFigures[]): string {
  const lines: string[] = [];
  lines.push('# Reliability and security');
  lines.push('');
  lines.push(
    'Generated by `npm run test:hard` (packages/hardening; also part of `npm test`). Every number below was measured by the suite on the machine that last ran it; do not edit by hand.',
  );
  lines.push('');
  lines.push('| | total |');
  lines.push('|---|---:|');
  for (const [key, label] of TOTALS) {
    const total = suites.reduce((sum, s) => sum + (s.counters[key] ?? 0), 0);
    lines.push(`| ${label} | ${total} |`);
  }
  lines.push('');
  lines.push('| suite | last run | duration |');
  lines.push('|---|---|---:|');
  for (const s of suites) lines.push(`| ${s.title} | ${s.finishedAt} | ${s.durationS} s |`);
  for (const s of suites) lines.push('', ...renderSuite(s));
  lines.push('', '## What remains weak', '');
  for (const w of WEAKNESSES) lines.push(`- ${w}`);
  lines.push('', '## Out of reach of a namespaces engine (and what the microVM engine adds)', '');
  for (const o of OUT_OF_REACH) lines.push(`- ${o}`);
  lines.push('');
  return lines.join('\n');
}

function renderSuite(s: SuiteFigures): string[] {
  const out = [`## ${s.title}`, ''];
  const counters = Object.entries(s.counters).map(([k, v]) => `${k.replaceAll('_', ' ')}: ${v}`);
  if (counters.length > 0) out.push(counters.join(' · '), '');
  if (s.checks.length > 0) {
    out.push('| attempt / check | outcome |', '|---|---|');
    for (const c of s.checks) out.push(`| ${cell(c.name)} | ${cell(c.outcome)} |`);
    out.push('');
  }
  const numbers = Object.entries(s.numbers);
  if (numbers.length > 0) {
    out.push('| measurement | value |', '|---|---:|');
    for (const [k, v] of numbers) out.push(`| ${cell(k)} | ${v} |`);
    out.push('');
  }
  const latency = Object.entries(s.latency);
  if (latency.length > 0) {
    out.push('| latency (ms) | n | p50 | p90 | p99 | max |', '|---|---:|---:|---:|---:|---:|');
    for (const [k, v] of latency) out.push(`| ${cell(k)} | ${v.n} | ${v.p50} | ${v.p90} | ${v.p99} | ${v.max} |`);
    out.push('');
  }
  if (s.findings.length > 0) {
    out.push('Found and fixed:', '');
    for (const f of s.findings) out.push(`- ${f}`);
    out.push('');
  }
  for (const n of s.notes) out.push(n, '');
  return out;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}
