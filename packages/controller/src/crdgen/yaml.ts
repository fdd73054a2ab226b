/**
 * A small YAML writer for the generated manifests. Hand-rolled because client-node's dumpYaml
 * serialises through its typed models, which drop schema keywords such as `enum` and `default`;
 * the output here keeps keys in declaration order so diffs of generated files stay readable.
 * @module
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Plain scalars YAML 1.1 or 1.2 readers could take for something other than a string. */
const AMBIGUOUS =
  /^(?:true|false|yes|no|on|off|y|n|null|~|[-+]?(?:\d[\d_]*)?(?:\.\d*)?(?:e[-+]?\d+)?|\.inf|\.nan|0x[0-9a-f]+|0o[0-7]+)$/i;
const PLAIN = /^[A-Za-z_./][A-Za-z0-9 _./()`',-]*$/;

export function toYaml(value: unknown): string {
  return emit(value as Json, 0, false).replace(/^\n/, '');
}

function emit(value: Json, indent: number, inList: boolean): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return ' []';
    return value.map((item) => `\n${pad}-${emitListItem(item, indent + 2)}`).join('');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return ' {}';
    return entries
      .map(([k, v], i) => {
        const lead = inList && i === 0 ? ' ' : `\n${pad}`;
        return `${lead}${scalar(k)}:${emit(v, indent + 2, false)}`;
      })
      .join('');
  }
  return ` ${scalar(value)}`;
}

function emitListItem(item: Json, indent: number): string {
  if (item !== null && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length > 0) {
    return emit(item, indent, true);
  }
  return emit(item, indent, false);
}

function scalar(value: null | boolean | number | string): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  const plain = PLAIN.test(value) && !AMBIGUOUS.test(value) && !value.endsWith(' ') && !/: | #/.test(value);
  // JSON's double-quoted strings are valid YAML double-quoted scalars.
  return plain ? value : JSON.stringify(value);
}
