/**
 * A contender is one way of getting a command's output from a fresh isolated environment: mitos
 * create-then-exec, or a peer runtime started from scratch. The startup section runs them in
 * interleaved rounds so that machine noise lands on all of them alike.
 * @module
 */
import type { Subject } from '../results.js';

export type Workload = 'echo' | 'python';

export const WORKLOADS: Record<Workload, { argv: string[]; shell: string; expected: string }> = {
  echo: { argv: ['echo', 'hi'], shell: 'echo hi', expected: 'hi' },
  python: { argv: ['python3', '-c', 'print(2+2)'], shell: "python3 -c 'print(2+2)'", expected: '4' },
};

export interface RunSample {
  /** Time to the command's output. */
  ms: number;
  /** Named sub-timings (phases, time to exit), each summarised as a figure of its own. */
  parts?: Record<string, number>;
}

export interface Contender {
  subject: Subject;
  workload: Workload;
  /** Figure id prefix, e.g. `peer.podman.echo`. */
  id: string;
  label: string;
  reproduce: string;
  /** Labels and reproductions of the `parts` this contender reports. */
  parts?: Record<string, { label: string; reproduce?: string; note?: string }>;
  note?: string;
  run(): Promise<RunSample>;
  /** Ends what the contender keeps between runs (a client process); called once, after the last run. */
  close?(): void;
}

/** A peer runtime ready to run (set up and checked once), or why it is skipped. */
export interface PeerSetup {
  subject: Exclude<Subject, 'mitos'>;
  label: string;
  version?: string;
  contenders: Contender[];
  skipped?: string;
  note?: string;
}
