/**
 * The result model: what a run measured, in a shape that is written as JSON and rendered as
 * markdown. Kept free of I/O so the renderer can be tested on a hand-made result set.
 * @module
 */
import type { Summary } from './stats.js';

export type Unit = 'ms' | 'MiB' | 'KiB' | 'calls/s' | 'sandboxes' | 'Gbit/s';

/** Who was measured: mitos itself or one of the peer runtimes. */
/** `baseline` is another build of mitos (`--baseline DIR`), run as a peer in the same rounds. */
export type Subject = 'mitos' | 'host' | 'bwrap' | 'crun' | 'runc' | 'podman' | 'baseline';

export interface Figure {
  /** Stable key for comparing runs across commits, e.g. `tti.echo`. */
  id: string;
  section: string;
  subject: Subject;
  label: string;
  unit: Unit;
  /** Absent when the figure could not be measured; `unavailable` then says why. */
  summary?: Summary;
  unavailable?: string;
  /** The command line or code that reproduces the figure. */
  reproduce: string;
  note?: string;
}

/** `peer ÷ mitos` of two medians: above 1 means mitos is faster by that factor. */
export interface Ratio {
  id: string;
  label: string;
  mitos: string;
  peer: string;
  value?: number;
  unavailable?: string;
}

export type GoalStatus = 'met' | 'not met' | 'not measured';

export interface GoalResult {
  id: string;
  label: string;
  target: string;
  measured: string;
  status: GoalStatus;
  /** For goals not met (or not measured): what bounds the figure. */
  bound?: string;
}

export interface PeerStatus {
  subject: Exclude<Subject, 'mitos'>;
  label: string;
  version?: string;
  ok: boolean;
  note?: string;
}

export interface Machine {
  nproc: number;
  memTotalBytes: number;
  kernel: string;
  cpuModel: string;
  date: string;
  node: string;
  commit?: string;
  /** 1, 5 and 15 minute load averages when the run started and when it ended. */
  loadAvg: { start: number[]; end: number[] };
}

export interface BenchResults {
  schema: 1;
  engine: string;
  command: string;
  quick: boolean;
  sections: string[];
  machine: Machine;
  durationS: number;
  figures: Figure[];
  ratios: Ratio[];
  goals: GoalResult[];
  peers: PeerStatus[];
  notes: string[];
}

/** Collects what the sections measure, in the order they measured it. */
export class Recorder {
  readonly figures: Figure[] = [];
  readonly peers: PeerStatus[] = [];
  readonly notes: string[] = [];

  add(figure: Figure): void {
    if (this.figures.some((f) => f.id === figure.id)) throw new Error(`figure ${figure.id} recorded twice`);
    this.figures.push(figure);
  }

  note(text: string): void {
    this.notes.push(text);
  }

  peer(status: PeerStatus): void {
    this.peers.push(status);
  }

  get(id: string): Figure | undefined {
    return this.figures.find((f) => f.id === id);
  }
}
