/**
 * The wire creates a template for any unknown id (the seed client relies on that), so a typo
 * such as `pyhton` silently becomes a new template. When a create made one, say so and name
 * the closest existing template.
 */

/** The images every server can build; a near miss of one is a typo even on a fresh server. */
export const CATALOGUE_TEMPLATES: readonly string[] = ['python', 'node', 'base'];

/** Levenshtein distance, small inputs only (template ids). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** The known id closest to `id` when it is close enough to be a typo of it. */
export function closestTemplate(id: string, known: readonly string[]): string | undefined {
  let best: { id: string; d: number } | undefined;
  for (const k of known) {
    if (k === id) continue;
    const d = distance(id.toLowerCase(), k.toLowerCase());
    if (d <= Math.max(1, Math.floor(k.length / 3)) && (!best || d < best.d)) best = { id: k, d };
  }
  return best?.id;
}

export function newTemplateWarning(id: string, suggestion: string): string {
  return `template "${id}" did not exist, so this call created it; did you mean "${suggestion}"?`;
}
