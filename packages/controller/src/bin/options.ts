/**
 * Flag handling shared by the two binaries: every flag has an environment fallback so the
 * Helm chart can configure pods through env, and secrets are read from files, never flags.
 * @module
 */
import { readFileSync } from 'node:fs';

export function nodeKeyFrom(file: string | undefined): string {
  const key = file ? readFileSync(file, 'utf8').trim() : (process.env.MITOS_NODE_KEY ?? '').trim();
  if (key.length < 16) {
    process.stderr.write('a node key of at least 16 characters is required (--node-key-file or MITOS_NODE_KEY)\n');
    process.exit(2);
  }
  return key;
}

export function labelsFrom(values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values.flatMap((v) => v.split(','))) {
    const [k, ...rest] = value.split('=');
    if (!k) continue;
    labels[k.trim()] = rest.join('=').trim();
  }
  return labels;
}

export function intFrom(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`--${name} must be a whole number >= 0\n`);
    process.exit(2);
  }
  return n;
}
