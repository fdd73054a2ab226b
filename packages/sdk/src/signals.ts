/**
 * Signal names to numbers as the sandbox (Linux) numbers them. os.constants.signals would
 * give the client's numbering, which differs on macOS (SIGUSR1 is 30 there, 10 on Linux).
 * @module
 */
import { AgentRunError } from './errors.js';

const LINUX_SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGWINCH: 28,
};

/** A signal number, or a name with or without `SIG` in any case (`'TERM'`, `'SIGterm'`). */
export type SignalLike = number | string;

export function signalNumber(sig: SignalLike): number {
  if (typeof sig === 'number' && Number.isInteger(sig) && sig >= 1 && sig <= 64) return sig;
  if (typeof sig === 'string') {
    if (/^\d+$/.test(sig)) return signalNumber(Number(sig));
    const upper = sig.toUpperCase();
    const n = LINUX_SIGNALS[upper.startsWith('SIG') ? upper : `SIG${upper}`];
    if (n !== undefined) return n;
  }
  throw new AgentRunError({
    code: 'invalid_request',
    message: 'invalid signal',
    cause: `${JSON.stringify(sig)} is neither a signal number from 1 to 64 nor a known signal name`,
    remediation: `pass a number or one of ${Object.keys(LINUX_SIGNALS).join(', ')}`,
    context: { field: 'signal' },
  });
}
