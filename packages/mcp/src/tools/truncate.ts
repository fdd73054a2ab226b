/**
 * Long command output would flood a model's context. We keep the start and the end (errors
 * are usually at the end) and say where the whole text is.
 * @module
 */

/** Characters of one stream returned inline; the rest is saved to a file in the sandbox. */
export const INLINE_OUTPUT_CHARS = 16_000;
const HEAD_CHARS = 2_000;

export interface Clipped {
  text: string;
  omitted: number;
}

export function clip(text: string, limit = INLINE_OUTPUT_CHARS): Clipped {
  if (text.length <= limit) return { text, omitted: 0 };
  const head = Math.min(HEAD_CHARS, Math.floor(limit / 4));
  const tail = limit - head;
  const omitted = text.length - head - tail;
  return { text: `${text.slice(0, head)}\n[... ${omitted} characters omitted ...]\n${text.slice(-tail)}`, omitted };
}
