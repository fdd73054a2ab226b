import { type HostReport, linuxHostChecks, microvmHostChecks, runHostChecks } from '@mitos/engine';
import { defaultStateDir } from './state-dir.js';

/** `mitos doctor`: the host-wide checks, then each driver's own. */
export function runDoctor(): Promise<HostReport> {
  return runHostChecks({ stateDir: defaultStateDir() }, [linuxHostChecks, microvmHostChecks]);
}
