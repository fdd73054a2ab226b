import { type HostReport, linuxHostChecks, microvmHostChecks, runHostChecks } from '@mitos/engine';
import { serviceChecks } from './service.js';
import { defaultStateDir } from './state-dir.js';

/** `mitos doctor`: the host-wide checks, each driver's own, then the systemd unit if installed. */
export function runDoctor(): Promise<HostReport> {
  return runHostChecks({ stateDir: defaultStateDir() }, [linuxHostChecks, microvmHostChecks, () => serviceChecks()]);
}
