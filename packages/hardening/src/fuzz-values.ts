/** The hostile values api-fuzz.test.ts sends: ids, field values, file paths and timeouts. */

/** A 5xx is acceptable only with one of these: each names what failed, none hides a bug. */
export const SPECIFIC_5XX = new Set(['file_failed', 'exec_failed', 'kernel_unavailable', 'exec_timeout', 'disk_full']);

export const INVALID_IDS = [
  '',
  '..',
  '../x',
  '../../../../etc/passwd',
  'a/b',
  'a\u0000b',
  'ŝandbox',
  '😀',
  'x'.repeat(1000),
  ' x',
  '-x',
  '%2e%2e',
  'a\nb',
  'a'.repeat(65),
];

export const HOSTILE_VALUES: unknown[] = [
  null,
  0,
  -1,
  1.5,
  1e308,
  true,
  [],
  {},
  '',
  '\u0000',
  '../../../../etc/passwd',
  'x'.repeat(1000),
  '\ud800',
  '𝕏'.repeat(10),
  { $gt: '' },
];

export const TRAVERSAL_PATHS = [
  '../../../../etc/passwd',
  '/../../../../etc/shadow',
  'etc/passwd',
  '/workspace/../../../../../proc/1/environ',
  '/proc/1/root/etc/passwd',
  '/proc/self/root/../../..',
  '/workspace/\u0000/x',
  `/workspace/${'a'.repeat(5000)}`,
  `/${'a/'.repeat(3000)}`,
  '/workspace/ŝ/😀/file',
  '//',
  '/dev/zero',
  '/dev/full',
  '/proc/kmsg',
  '/sys/kernel/notes',
  '\\..\\..\\windows',
];

export const TIMEOUTS: unknown[] = [-1, -86400, 0.5, 86401, 1e12, 2 ** 53, '10', null, Number.MAX_VALUE];
