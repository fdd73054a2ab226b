import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where `mitos serve` keeps its database and sandboxes unless told otherwise. */
export function defaultStateDir(): string {
  if (process.env.MITOS_STATE_DIR) return process.env.MITOS_STATE_DIR;
  return process.getuid?.() === 0 ? '/var/lib/mitos' : join(homedir(), '.local', 'state', 'mitos');
}
