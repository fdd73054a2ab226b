/**
 * The terminal's WebSocket frames (wire-v1.md 4.18): one JSON object per text message.
 * Client frames that do not parse are ignored, as the seed does, so a newer client's extra
 * frame kinds cannot break an older server.
 */

export const DEFAULT_COLS = 80;
export const DEFAULT_ROWS = 24;
const MAX_DIMENSION = 100_000;

export type ClientFrame = { kind: 'input'; data: Buffer } | { kind: 'resize'; cols: number; rows: number };

export type ServerFrame = { kind: 'output'; data: string } | { kind: 'exit'; exit_code: number; error?: string };

export function parseClientFrame(text: string): ClientFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const frame = value as { kind?: unknown; data?: unknown; cols?: unknown; rows?: unknown };
  if (frame.kind === 'input' && typeof frame.data === 'string') {
    return { kind: 'input', data: Buffer.from(frame.data, 'base64') };
  }
  if (frame.kind === 'resize' && isDimension(frame.cols) && isDimension(frame.rows)) {
    return { kind: 'resize', cols: frame.cols, rows: frame.rows };
  }
  return undefined;
}

/** Query `cols`/`rows`: decimal digits only; anything else, 0, or above 100000 is the default. */
export function parseDimension(raw: string | undefined, fallback: number): number {
  if (raw === undefined || !/^\d{1,6}$/.test(raw)) return fallback;
  const n = Number(raw);
  return isDimension(n) ? n : fallback;
}

function isDimension(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_DIMENSION;
}

export function outputFrame(chunk: Buffer): ServerFrame {
  return { kind: 'output', data: chunk.toString('base64') };
}
