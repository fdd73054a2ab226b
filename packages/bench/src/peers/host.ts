/**
 * The host baseline: a plain spawn of /bin/echo with no isolation at all. It calibrates the
 * noise of this machine at the moment of the run (platform notes measured ~1 ms when idle).
 * @module
 */
import { timeExpecting } from '../host/spawn-timing.js';
import type { PeerSetup } from './contender.js';

export async function setupHost(): Promise<PeerSetup> {
  return {
    subject: 'host',
    label: 'host baseline (no isolation)',
    contenders: [
      {
        subject: 'host',
        workload: 'echo',
        id: 'peer.host.echo',
        label: 'host spawn to output: /bin/echo hi (no isolation; machine noise reference)',
        reproduce: '/bin/echo hi',
        async run() {
          const t = await timeExpecting({ command: '/bin/echo', args: ['hi'] }, 'hi');
          return { ms: t.firstOutputMs };
        },
      },
    ],
  };
}
