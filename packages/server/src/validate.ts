/**
 * Field checks shared by several routes. Every 400 here uses code invalid_json, as the seed
 * server does for all of its bad-request cases (wire-v1.md section 8, item 4); the cause
 * names the field and the rule.
 */
import { ID_PATTERN, MitosError } from '@mitos/protocol';

/** Checks an id against ID_PATTERN; an id that fails can never name a resource or a path. */
export function requireId(value: string, field: string): string {
  if (value === '') throw new MitosError('invalid_json', `${field} is required`);
  if (!ID_PATTERN.test(value)) {
    throw new MitosError('invalid_json', `${field} ${quote(value)} is invalid: it must match ${ID_PATTERN.source}`);
  }
  return value;
}

export function requirePath(value: string): string {
  if (value === '') throw new MitosError('invalid_json', 'path is required');
  if (value.includes('\0')) throw new MitosError('invalid_json', 'path must not contain NUL bytes');
  return value;
}

/** JSON-quoted and shortened, so hostile input stays one readable line in a cause. */
export function quote(value: string): string {
  const short = value.length > 80 ? `${value.slice(0, 80)}...` : value;
  return JSON.stringify(short);
}

/**
 * Fields a newer client may send that this server cannot honour: refused with
 * not_implemented (never accepted and ignored), the remediation saying what to do instead.
 */
export function refuseUnsupported(body: object, fields: Record<string, string>): void {
  for (const [field, remediation] of Object.entries(fields)) {
    if (field in body && (body as Record<string, unknown>)[field] !== undefined) {
      throw new MitosError('not_implemented', `${field} is not supported by this server`, { field }, { remediation });
    }
  }
}
