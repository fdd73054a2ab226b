/**
 * Which of the parent's processes a fork carries, decided before anything is made: a mode the
 * driver cannot honour is refused, and every process the children will not have is named in
 * the report, so a fork never drops processes unseen.
 */
import { MitosError } from '@mitos/protocol';
import type { ForkProcessesMode, NotCarriedProcess, ProcessInfo } from '../engine.js';
import type { SandboxDriver } from './driver.js';

export interface ProcessPlan {
  /** The driver copies every process of the parent into each child. */
  carry: boolean;
  notCarried: NotCarriedProcess[];
}

type Driver = Pick<SandboxDriver, 'name' | 'forkCarriesProcesses' | 'carriesProcessesOnRequest'>;

export interface PlanParent {
  listProcesses(): Promise<ProcessInfo[]>;
}

/**
 * Every process the agent reports (all but pid 1, the agent and the worker answering): the relays the
 * agent forks per command are listed too, as `mitos-init`, since a name is no proof: a
 * process that calls itself `mitos-init` must not vanish from the report.
 */
function reportedProcesses(processes: ProcessInfo[]): ProcessInfo[] {
  return processes.filter((p) => p.pid > 1);
}

function leftBehind(running: ProcessInfo[], reason: string): ProcessPlan {
  return { carry: false, notCarried: running.map((p) => ({ pid: p.pid, command: p.command.trim(), reason })) };
}

/**
 * `mode` undefined is the body without `processes`: the engine's default fork, which carries
 * every process where the engine copies the whole machine and, on an engine that carries them
 * only on request (linux: a CRIU checkpoint, far slower than a files fork), files and
 * interpreter state. `auto` carries every process there when the parent runs any beyond its
 * agent, and forks the files when it runs none (nothing would be carried).
 */
export async function planForkProcesses(
  driver: Driver,
  mode: ForkProcessesMode | undefined,
  parent: PlanParent,
): Promise<ProcessPlan> {
  if (driver.forkCarriesProcesses) {
    if (mode === 'none') {
      throw new MitosError(
        'not_implemented',
        `the ${driver.name} engine copies the whole machine: its forks always carry every process`,
        {},
        { remediation: 'omit processes or send "all"; stop the processes you do not want in the children' },
      );
    }
    return { carry: true, notCarried: [] };
  }
  if (mode === 'all' && driver.carriesProcessesOnRequest) return { carry: true, notCarried: [] };
  if (mode === 'all') {
    throw new MitosError(
      'not_implemented',
      `the ${driver.name} engine cannot carry running processes into a fork yet`,
      {},
      {
        remediation:
          'send processes "none" (or omit it) for a fork of the files and interpreter state, or use the microvm engine, whose forks carry every process',
      },
    );
  }
  const running = reportedProcesses(await parent.listProcesses());
  if (mode === 'auto' && driver.carriesProcessesOnRequest) {
    // A parent with a network link too: its connections to outside are closed in the children
    // and listed in the report (drivers/linux/carried-fork.ts).
    return { carry: running.length > 0, notCarried: [] };
  }
  if (mode === 'none') return leftBehind(running, 'not asked for (processes: "none")');
  return leftBehind(
    running,
    driver.carriesProcessesOnRequest
      ? `the ${driver.name} engine's default fork carries files and interpreter state only; send processes "auto" or "all" to carry running processes`
      : `the ${driver.name} engine cannot carry running processes; the child has the files and interpreter state only`,
  );
}
