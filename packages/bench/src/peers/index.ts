/**
 * Sets up every peer runtime once (install, image, bundles, one checked run each) and reports
 * which ones can run. A peer that cannot run is skipped with the reason; the rest go on.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { IMAGES } from '@mitos/engine';
import { ensureDebianPackages } from '../host/apt.js';
import { removeCgroupParent } from '../host/cgroup-parent.js';
import { describeError, log } from '../log.js';
import type { Recorder } from '../results.js';
import { setupBwrap } from './bwrap.js';
import type { Contender, PeerSetup } from './contender.js';
import { setupHost } from './host.js';
import { setupOci } from './oci.js';
import { setupPodman } from './podman.js';
import { type CachedRootfs, findPythonRootfs } from './rootfs.js';

const PACKAGES = { bwrap: 'bubblewrap', crun: 'crun', runc: 'runc', podman: 'podman' };
/** The uid range the cached template tree carries on disk (the engine's DEFAULT_UID_BASE). */
const TEMPLATE_UID_BASE = 100_000;
/**
 * The peers' own container root: never the template's on-disk range nor a mitos sandbox range
 * (those start at 1e9), so whatever a peer runtime chowns can never belong to a sandbox. The
 * read-only tree then shows as nobody-owned inside, which the measured commands do not mind.
 */
const PEER_UID_BASE = 300_000;
const UID_COUNT = 65_536;

export interface Peers {
  rootfs?: CachedRootfs;
  contenders: Contender[];
  close(): void;
}

export async function setupPeers(rec: Recorder): Promise<Peers> {
  const apt = ensureDebianPackages(PACKAGES, log);
  if (apt.installed.length > 0) rec.note(`installed from Debian for this run: ${apt.installed.join(', ')}`);
  if (apt.failed) rec.note(`peer install: ${apt.failed}`);
  const host = await setupHost();
  const rootfs = findPythonRootfs(undefined, TEMPLATE_UID_BASE);
  if (!rootfs) {
    for (const subject of ['bwrap', 'crun', 'runc', 'podman'] as const) {
      rec.peer({
        subject,
        label: subject,
        ok: false,
        note: 'no cached python rootfs to run (build the python template first)',
      });
    }
    return { contenders: host.contenders, close() {} };
  }
  const workDir = mkdtempSync('/tmp/mitos-bench-peers-');
  const cgroupParent = `mitos-bench-oci-${workDir.slice(-6)}`;
  const oci = {
    rootfs: rootfs.rootfs,
    workDir,
    cgroupParent,
    uidBase: PEER_UID_BASE,
    uidCount: UID_COUNT,
    limits: IMAGES.python.limits,
  };
  const setups: Array<() => Promise<PeerSetup>> = [
    () => setupBwrap(rootfs.rootfs),
    () => setupOci('crun', oci),
    () => setupOci('runc', oci),
    () => setupPodman(rootfs, workDir, log),
  ];
  const contenders: Contender[] = [...host.contenders];
  for (const setup of setups) {
    let peer: PeerSetup;
    try {
      peer = await setup();
    } catch (err) {
      rec.note(`peer set-up crashed: ${describeError(err)}`);
      continue;
    }
    const note = peer.skipped ? `skipped: ${peer.skipped}` : peer.note;
    rec.peer({ subject: peer.subject, label: peer.label, version: peer.version, ok: !peer.skipped, note });
    log(`peer ${peer.subject}: ${peer.skipped ? `skipped (${peer.skipped})` : 'ready'}`);
    contenders.push(...peer.contenders);
  }
  return {
    rootfs,
    contenders,
    close() {
      const left = removeCgroupParent(cgroupParent);
      if (left.length > 0) log(`peer cgroups left behind: ${left.join(' ')}`);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/**
 * podman alone, for the whole-process CLI comparison (`--only cli`): the peer a person compares
 * `mitos run` with, without the OCI runtimes' bundles (crun/runc map the template's uid range
 * over host device nodes, which the engine then refuses to bind for its own launches).
 */
export async function setupPodmanPeer(rec: Recorder): Promise<Peers> {
  const apt = ensureDebianPackages({ podman: PACKAGES.podman }, log);
  if (apt.failed) rec.note(`peer install: ${apt.failed}`);
  const rootfs = findPythonRootfs(undefined, TEMPLATE_UID_BASE);
  if (!rootfs) {
    rec.peer({ subject: 'podman', label: 'podman', ok: false, note: 'no cached python rootfs to import' });
    return { contenders: [], close() {} };
  }
  const workDir = mkdtempSync('/tmp/mitos-bench-peers-');
  const peer = await setupPodman(rootfs, workDir, log);
  const note = peer.skipped ? `skipped: ${peer.skipped}` : peer.note;
  rec.peer({ subject: peer.subject, label: peer.label, version: peer.version, ok: !peer.skipped, note });
  return {
    rootfs,
    contenders: peer.contenders.filter((c) => c.workload === 'python'),
    close: () => rmSync(workDir, { recursive: true, force: true }),
  };
}
