/**
 * The project's goals for the Linux driver, checked against this run's medians. Each goal
 * that is not met says what bounds it, from the finer figures measured alongside.
 * @module
 */
import type { Figure, GoalResult, Ratio } from '../results.js';
import { formatValue } from './format.js';

interface Lookup {
  median(id: string): number | undefined;
  figure(id: string): Figure | undefined;
  ratio(id: string): Ratio | undefined;
}

interface GoalSpec {
  id: string;
  label: string;
  target: string;
  /** The measured value and whether it meets the target; undefined when not measured. */
  check(l: Lookup): { value: number; text: string; met: boolean } | undefined;
  /** What bounds the figure (shown when the goal is not met). */
  bound(l: Lookup): string;
}

const ms = (v: number) => formatValue(v, 'ms');

function atMost(figureId: string, limit: number, unit: 'ms' | 'MiB') {
  return (l: Lookup) => {
    const value = l.median(figureId);
    return value === undefined ? undefined : { value, text: `${formatValue(value, unit)} median`, met: value <= limit };
  };
}

const GOALS: readonly GoalSpec[] = [
  {
    id: 'goal.tti',
    label: 'time to interactive',
    target: '<= 5 ms median',
    check: atMost('tti.echo', 5, 'ms'),
    bound: (l) => {
      const [create, engine, exec] = ['tti.echo.create', 'tti.echo.engine', 'tti.echo.firstExec'].map((id) =>
        l.median(id),
      );
      if (create === undefined || engine === undefined || exec === undefined) return unmeasured(l, 'tti.echo');
      return `create() ${ms(create)}, of which the engine's own create ${ms(engine)} (cgroup, btrfs snapshot, namespaces, agent ready) and ${ms(create - engine)} for the template check + fork HTTP calls; then the first exec ${ms(exec)}`;
    },
  },
  {
    id: 'goal.e2b.tti',
    label: "E2B SDK: Sandbox.create() to first commands.run('echo hi')",
    target: '<= 15 ms median',
    check: atMost('e2b.tti.echo', 15, 'ms'),
    bound: (l) => {
      const [create, run] = ['e2b.tti.echo.create', 'e2b.tti.echo.firstRun'].map((id) => l.median(id));
      if (create === undefined || run === undefined) return unmeasured(l, 'e2b.tti.echo');
      return `Sandbox.create() ${ms(create)} (warm-pool take + deadline; E2B's base image carries the user account), then the first commands.run ${ms(run)} (a Connect server stream: setpriv + bash -l)`;
    },
  },
  {
    id: 'goal.exec',
    label: 'exec round trip',
    target: '<= 1 ms median',
    check: atMost('exec.rt', 1, 'ms'),
    bound: (l) => {
      const [rt, direct] = [l.median('exec.rt'), l.median('exec.engine')];
      if (rt === undefined || direct === undefined) return unmeasured(l, 'exec.rt');
      return `the agent's fork+exec over its unix socket takes ${ms(direct)} (engine called in-process); HTTP, JSON and the SDK add ${ms(rt - direct)}`;
    },
  },
  {
    id: 'goal.exec.httpx',
    label: "exec round trip from httpx (the seed Python SDK's client), unchanged",
    target: '<= 2 ms median',
    check: atMost('exec.httpx', 2, 'ms'),
    bound: (l) => {
      const [httpx, direct] = [l.median('exec.httpx'), l.median('exec.engine')];
      if (httpx === undefined || direct === undefined) return unmeasured(l, 'exec.httpx');
      return `the engine's exec takes ${ms(direct)}; HTTP, JSON and httpx add ${ms(httpx - direct)}`;
    },
  },
  {
    id: 'goal.exec.throughput',
    label: 'exec throughput, 32 callers on one sandbox',
    target: '>= 2,000 calls/s',
    check: (l) => {
      const v = l.median('exec.throughput');
      return v === undefined ? undefined : { value: v, text: `${formatValue(v, 'calls/s')} median`, met: v >= 2000 };
    },
    bound: (l) => {
      const engine = l.median('exec.throughput.engine');
      if (engine === undefined) return unmeasured(l, 'exec.throughput');
      return `the engine alone (no HTTP) completes ${formatValue(engine, 'calls/s')}: each exec is a fork+exec by the agent, on 2 cores shared with the server`;
    },
  },
  {
    id: 'goal.fork',
    label: 'fork to first exec',
    target: '<= 10 ms median',
    check: atMost('fork.first', 10, 'ms'),
    bound: (l) =>
      unmeasured(l, 'fork.first') ||
      'the fork call (save interpreter state, freeze, btrfs snapshot, thaw, launch the child) plus one exec; no finer split is measured',
  },
  {
    id: 'goal.fanout',
    label: '16 children forked and each ran a command',
    target: '<= 50 ms wall',
    check: atMost('fork.fanout.16', 50, 'ms'),
    bound: (l) => {
      const one = l.median('fork.fanout.1');
      const sixteen = l.median('fork.fanout.16');
      if (one === undefined || sixteen === undefined) return unmeasured(l, 'fork.fanout.16');
      return `fork(1) takes ${ms(one)} and fork(16) ${ms(sixteen)}: ${formatValue(sixteen / one, 'x')} for 16x the children (launches share 2 cores)`;
    },
  },
  {
    id: 'goal.runcode.first',
    label: 'run_code first call on a fresh sandbox',
    target: '<= 15 ms median',
    check: atMost('runcode.first', 15, 'ms'),
    bound: (l) => {
      const [first, warm, cold] = [l.median('runcode.first'), l.median('runcode.warm'), l.median('runcode.first.cold')];
      if (first === undefined || warm === undefined || cold === undefined) return unmeasured(l, 'runcode.first');
      const memory = l.median('runcode.prestarted.memory');
      const cost = memory === undefined ? '' : ` (a fresh sandbox with it: ${formatValue(memory, 'MiB')} unique)`;
      return `where run_code is in recent use the pool starts the kernel ahead${cost}; a warm call takes ${ms(warm)}; the first call in a template's first use, or with --no-warm-kernels, starts the kernel: ${ms(cold)}`;
    },
  },
  {
    id: 'goal.pagecache',
    label: 'page cache unique per sandbox that imports numpy, pandas, matplotlib',
    target: '<= 5 MiB median',
    check: atMost('pagecache.sandbox', 5, 'MiB'),
    bound: (l) => {
      const fork = l.median('pagecache.fork');
      if (fork === undefined) return unmeasured(l, 'pagecache.sandbox');
      return `fork children: ${formatValue(fork, 'MiB')} each`;
    },
  },
  {
    id: 'goal.idle',
    label: 'idle unique memory per sandbox',
    target: '<= 8 MiB',
    check: (l) => {
      const uss = l.median('density.idle.uss');
      if (uss === undefined) return undefined;
      const cgroup = l.median('density.idle.cgroup');
      const extra = cgroup === undefined ? '' : ` (cgroup usage, page cache included: ${formatValue(cgroup, 'MiB')})`;
      return { value: uss, text: `${formatValue(uss, 'MiB')} USS median${extra}`, met: uss <= 8 };
    },
    bound: (l) => {
      const parts = ['mitos-init', 'mitos-agent', 'mitos-supervise']
        .map((name) => [name, l.median(`density.idle.uss.${name}`)] as const)
        .filter((p): p is readonly [string, number] => p[1] !== undefined)
        .map(([name, v]) => `${name} ${formatValue(v, 'MiB')}`);
      return parts.length > 0 ? `per process: ${parts.join(', ')}` : unmeasured(l, 'density.idle.uss');
    },
  },
  {
    id: 'goal.podman',
    label: 'create-and-run faster than podman run and than crun run (issue 19)',
    target: '>= 6x podman and faster than crun',
    check: (l) => {
      const r = l.ratio('ratio.podman.python');
      if (r?.value === undefined) return undefined;
      const crun = l.ratio('ratio.crun.python')?.value;
      const [podman, crunMs, mitos] = ['peer.podman.python', 'peer.crun.python', 'run.python'].map((id) =>
        l.median(id),
      );
      const peers = [podman && `podman ${ms(podman)}`, crunMs && `crun ${ms(crunMs)}`].filter(Boolean).join(', ');
      const detail = mitos === undefined ? '' : ` (mitos ${ms(mitos)} vs ${peers})`;
      const crunText = crun === undefined ? '' : `, ${formatValue(crun, 'x')} crun`;
      // Met only when crun ran in the same run and took longer than mitos.
      return {
        value: r.value,
        text: `${formatValue(r.value, 'x')} podman${crunText}${detail}`,
        met: r.value >= 6 && crun !== undefined && crun > 1,
      };
    },
    bound: (l) => {
      const [create, exec, again] = ['run.python.create', 'run.python.firstExec', 'run.python.secondExec'].map((id) =>
        l.median(id),
      );
      const r = l.ratio('ratio.podman.python');
      if (r?.value === undefined) return r?.unavailable ?? 'podman or mitos create-and-run not measured';
      if (create === undefined || exec === undefined) return 'mitos create-and-run time';
      const warm = again === undefined ? '' : ` (the same exec again in that sandbox: ${ms(again)})`;
      const crun = l.ratio('ratio.crun.python')?.value === undefined ? '; crun not in this run (--only peers)' : '';
      return `mitos create-and-run = create() ${ms(create)} + the first python3 exec ${ms(exec)}${warm}${crun}`;
    },
  },
  {
    id: 'goal.cli.podman',
    label: "`mitos run -- python3 -c 'print(2+2)'` as a whole process, faster than `podman run` (to exit)",
    target: '>= 2x',
    check: (l) => {
      const [podman, mitos] = ['peer.podman.python.exit', 'cli.run.python.exit'].map((id) => l.median(id));
      if (podman === undefined || mitos === undefined) return undefined;
      const r = podman / mitos;
      return { value: r, text: `${formatValue(r, 'x')} (podman ${ms(podman)} vs mitos ${ms(mitos)})`, met: r >= 2 };
    },
    bound: (l) => {
      const [node, version] = ['cli.node-baseline', 'cli.version'].map((id) => l.median(id));
      if (node === undefined || version === undefined) return unmeasured(l, 'cli.run.python');
      const first = l.median('cli.run.python.first');
      const uncached = first === undefined ? '' : `; a first run with no code cache yet ${ms(first)}`;
      return `node's own start-up ${ms(node)} (the floor of any node command; \`mitos --version\` ${ms(version)}), then three calls (fork, exec stream, terminate) and python's start-up in the sandbox${uncached}`;
    },
  },
  {
    id: 'goal.console.js',
    label: 'web console first-view JavaScript',
    target: '<= 300 KiB gzip',
    check: (l) => {
      const kib = l.median('console.js.gzip');
      return kib === undefined ? undefined : { value: kib, text: `${formatValue(kib, 'KiB')} gzip`, met: kib <= 300 };
    },
    bound: (l) => unmeasured(l, 'console.js.gzip') || 'Preact, the views and their styles; xterm.js is a lazy chunk',
  },
  {
    id: 'goal.console.tti',
    label: 'web console first view interactive (first visit, loopback)',
    target: '<= 500 ms median',
    check: atMost('console.list', 500, 'ms'),
    bound: (l) => {
      const signIn = l.median('console.signin');
      if (signIn === undefined) return unmeasured(l, 'console.list');
      return `the sign-in form is ready at ${ms(signIn)}; the rest is the event stream's first snapshot and the render`;
    },
  },
];

function unmeasured(l: Lookup, id: string): string {
  const f = l.figure(id);
  if (!f) return `${id} was not run (see --only)`;
  return f.unavailable ?? '';
}

export function evaluateGoals(figures: readonly Figure[], ratios: readonly Ratio[]): GoalResult[] {
  const lookup: Lookup = {
    figure: (id) => figures.find((f) => f.id === id),
    median: (id) => figures.find((f) => f.id === id)?.summary?.median,
    ratio: (id) => ratios.find((r) => r.id === id),
  };
  return GOALS.map((g) => {
    const measured = g.check(lookup);
    if (!measured) {
      return {
        id: g.id,
        label: g.label,
        target: g.target,
        measured: '-',
        status: 'not measured',
        bound: g.bound(lookup) || 'not measured',
      };
    }
    const result: GoalResult = {
      id: g.id,
      label: g.label,
      target: g.target,
      measured: measured.text,
      status: measured.met ? 'met' : 'not met',
    };
    if (!measured.met) result.bound = g.bound(lookup);
    return result;
  });
}
