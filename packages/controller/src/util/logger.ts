import { type Logger, pino } from 'pino';

/** JSON logs of the controller binaries; the Authorization header is redacted if ever logged. */
export function createLogger(service: 'mitos-controller' | 'mitos-node'): Logger {
  return pino({
    base: { service },
    redact: { paths: ['authorization', '*.authorization', '*.headers.authorization'], censor: '[REDACTED]' },
  });
}
