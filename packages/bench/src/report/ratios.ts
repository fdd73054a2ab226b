/**
 * Side-by-side ratios of medians from the same run: peer ÷ mitos, so 12 reads "mitos is 12x
 * faster" and 0.5 reads "mitos takes twice as long" (expected against the bwrap floor, which
 * does far less than a sandbox).
 * @module
 */
import type { Figure, Ratio } from '../results.js';

const PEERS = [
  { subject: 'podman', label: 'podman run' },
  { subject: 'crun', label: 'crun run' },
  { subject: 'runc', label: 'runc run' },
  { subject: 'bwrap', label: 'bwrap spawn (floor)' },
  { subject: 'baseline', label: 'the --baseline build of mitos' },
] as const;

const WORKLOADS = [
  { workload: 'echo', mitos: 'tti.echo', label: 'time to interactive (`echo hi`)' },
  { workload: 'python', mitos: 'run.python', label: "create-and-run (`python3 -c 'print(2+2)'`)" },
] as const;

export function computeRatios(figures: readonly Figure[]): Ratio[] {
  const byId = new Map(figures.map((f) => [f.id, f]));
  const ratios: Ratio[] = [];
  for (const w of WORKLOADS) {
    const mitos = byId.get(w.mitos);
    if (!mitos) continue;
    for (const p of PEERS) {
      const peerId = `peer.${p.subject}.${w.workload}`;
      const peer = byId.get(peerId);
      const ratio: Ratio = {
        id: `ratio.${p.subject}.${w.workload}`,
        label: `${w.label}: ${p.label} ÷ mitos`,
        mitos: w.mitos,
        peer: peerId,
      };
      if (!peer?.summary || !mitos.summary) {
        ratio.unavailable = !peer ? `${p.subject} not run` : (peer.unavailable ?? mitos.unavailable ?? 'not measured');
      } else {
        ratio.value = peer.summary.median / mitos.summary.median;
      }
      ratios.push(ratio);
    }
  }
  return ratios;
}
