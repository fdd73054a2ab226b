/**
 * The one table that turns a failed host operation (a tool's exit status and stderr, or a
 * syscall errno) into a mitos error code. Order matters: the first matching row wins.
 */
import { type ErrorCode, MitosError } from '@mitos/protocol';

interface Row {
  code: ErrorCode;
  /** Matched against the errno code (ENOSPC) or the tool's stderr. */
  match: RegExp;
  hint?: string;
}

export const HOST_ERROR_TABLE: readonly Row[] = [
  { code: 'disk_full', match: /\bENOSPC\b|\bEDQUOT\b|No space left on device|Disk quota exceeded/i },
  { code: 'host_unsupported', match: /^ENOENT$/, hint: 'a required host tool is not installed' },
  {
    code: 'host_unsupported',
    match:
      /unknown filesystem type|could not find any free loop device|cannot find an unused loop device|failed to set up loop device|\/dev\/loop-control|No such device/i,
  },
  {
    code: 'host_unsupported',
    match: /\bEPERM\b|Operation not permitted|\bEACCES\b|Permission denied/i,
    hint: 'run the server as root',
  },
];

interface ToolFailure {
  code?: string | number | null;
  stderr?: string | Buffer;
  message?: string;
  killed?: boolean;
  signal?: string | null;
}

/** Map a thrown error from execFile or fs into a MitosError carrying what failed. */
export function mapHostError(err: unknown, what: string): MitosError {
  if (err instanceof MitosError) return err;
  const failure = (typeof err === 'object' && err !== null ? err : {}) as ToolFailure;
  const errno = typeof failure.code === 'string' ? failure.code : '';
  const stderr = String(failure.stderr ?? '').trim();
  const text = stderr || failure.message || String(err);
  // execFile reports a missing binary as errno ENOENT with no stderr.
  const subject = errno === 'ENOENT' && !stderr ? errno : `${errno} ${text}`;
  const detailBase = failure.killed ? `${what}: timed out (${failure.signal ?? 'killed'})` : `${what}: ${text}`;
  for (const row of HOST_ERROR_TABLE) {
    if (row.match.test(subject)) {
      const detail = row.hint ? `${detailBase} (${row.hint})` : detailBase;
      return new MitosError(row.code, detail, {}, { cause: err });
    }
  }
  return new MitosError('internal', detailBase, {}, { cause: err });
}
