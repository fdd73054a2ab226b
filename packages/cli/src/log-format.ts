/**
 * Server logs for a person at a terminal: `12:04:05 INFO  message  key=value ...` instead of
 * JSON lines. Machines (not a TTY, or --json) keep the JSON; this only reformats each line.
 * @module
 */

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line carries that a reader at a terminal does not need. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service']);

/** One pino JSON line as one readable line (with colour when `color`); a non-JSON line as-is. */
export function formatLogLine(line: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time = typeof rec.time === 'number' ? new Date(rec.time).toTimeString().slice(0, 8) : '';
  const level = LEVELS[Number(rec.level)] ?? 'INFO';
  const paint = (code: string, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const tag =
    level === 'WARN'
      ? paint('33', level.padEnd(5))
      : level === 'ERROR' || level === 'FATAL'
        ? paint('31', level.padEnd(5))
        : level.padEnd(5);
  const msg = typeof rec.msg === 'string' ? rec.msg : '';
  const fields = Object.entries(rec)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${paint('2', `${k}=`)}${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${paint('2', time)} ${tag} ${msg}${fields.length > 0 ? `  ${fields.join(' ')}` : ''}\n`;
}

/** A pino destination writing readable lines to `out`. */
export function readableDestination(out: NodeJS.WritableStream & { isTTY?: boolean }): { write(line: string): void } {
  const color = out.isTTY === true && !process.env.NO_COLOR;
  return { write: (line: string) => void out.write(formatLogLine(line, color)) };
}
