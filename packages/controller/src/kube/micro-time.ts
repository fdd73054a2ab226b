/**
 * metav1.MicroTime is RFC 3339 with exactly six fractional digits; the apiserver rejects the
 * three that Date#toISOString writes.
 * @module
 */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
