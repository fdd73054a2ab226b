/**
 * The C side of the frame protocol is generated from frames.ts: packages/agent/src/frame-ops.h
 * holds every operation, in-operation and reply type and the exec flags, so the agent and the
 * engine cannot drift apart. `node scripts/gen-contract.mjs` rewrites it; a test fails when the
 * committed header differs from what this renders.
 */
import {
  DATA_CHUNK,
  EXEC_FLAG_DETACH_ON_CLOSE,
  EXEC_FLAG_NO_PID,
  EXEC_FLAG_PTY,
  EXEC_FLAG_STDIN,
  EXEC_FLAG_USER,
  FRAME_MAX,
  In,
  Op,
  Out,
} from './frames.js';

/** Where the header lives, relative to the repository root. */
export const FRAME_HEADER_PATH = 'packages/agent/src/frame-ops.h';

/** connectTcp -> CONNECT_TCP */
function macroName(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function defines(prefix: string, table: Record<string, string>): string[] {
  return Object.entries(table).map(([key, type]) => `#define ${prefix}_${macroName(key)} '${type}'`);
}

export function renderFrameHeader(): string {
  return [
    '/*',
    ' * GENERATED from packages/engine/src/agent/frames.ts by `node scripts/gen-contract.mjs`.',
    ' * Do not edit: change frames.ts and regenerate (a test fails when the two disagree).',
    ' */',
    '#ifndef MITOS_FRAME_OPS_H',
    '#define MITOS_FRAME_OPS_H',
    '',
    `#define FRAME_MAX ${FRAME_MAX}u`,
    `#define DATA_CHUNK ${DATA_CHUNK}u`,
    '',
    '/* client -> agent: operations */',
    ...defines('OP', Op),
    '/* client -> agent: during an operation */',
    ...defines('IN', In),
    '/* agent -> client */',
    ...defines('OUT', Out),
    '',
    '/* exec flags (the first field of OP_EXEC) */',
    `#define EXEC_FLAG_PTY ${EXEC_FLAG_PTY}`,
    `#define EXEC_FLAG_STDIN ${EXEC_FLAG_STDIN}`,
    `#define EXEC_FLAG_DETACH_ON_CLOSE ${EXEC_FLAG_DETACH_ON_CLOSE}`,
    `#define EXEC_FLAG_USER ${EXEC_FLAG_USER}`,
    `#define EXEC_FLAG_NO_PID ${EXEC_FLAG_NO_PID}`,
    '',
    '#endif',
    '',
  ].join('\n');
}
