/**
 * Newline-delimited JSON as the streaming routes send it (wire-v1.md 4.8, 4.9): one object
 * per line, blank lines skipped. A line may be split across chunks and a chunk may carry
 * many lines; the last line may lack its newline.
 * @module
 */
import { invalidResponse } from './http.js';

/** Output chunks are base64 inside one line; anything beyond this is not a sane frame. */
const MAX_LINE_CHARS = 64 * 1024 * 1024;

export type JsonObject = Record<string, unknown>;

/** Yield each line's object; a line that is not a JSON object is `invalid_response`. */
export async function* ndjsonObjects(chunks: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<JsonObject> {
  // Decoding before splitting is safe: "\n" never occurs inside a multi-byte UTF-8 sequence.
  const decoder = new TextDecoder('utf-8');
  // The unfinished line is kept in pieces: a large frame arriving in many small chunks must
  // not be re-scanned on every chunk.
  let pieces: string[] = [];
  let pendingChars = 0;
  for await (const chunk of chunks) {
    const text = decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      pieces.push(text.slice(start, nl));
      const obj = parseLine(pieces.join(''), what);
      pieces = [];
      pendingChars = 0;
      start = nl + 1;
      if (obj) yield obj;
    }
    if (start < text.length) {
      pieces.push(text.slice(start));
      pendingChars += text.length - start;
      if (pendingChars > MAX_LINE_CHARS) {
        throw invalidResponse(`${what} sent a line longer than ${MAX_LINE_CHARS} characters`);
      }
    }
  }
  pieces.push(decoder.decode());
  const last = parseLine(pieces.join(''), what);
  if (last) yield last;
}

function parseLine(line: string, what: string): JsonObject | undefined {
  if (line.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw invalidResponse(`${what} sent a line that is not JSON: ${line.slice(0, 200)}`, err);
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as JsonObject;
  throw invalidResponse(`${what} sent a line that is not a JSON object: ${line.slice(0, 200)}`);
}

/**
 * Decode a base64 field. Buffer.from silently skips bad characters, so the text is checked
 * first; callers decide what a non-base64 value means.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'base64'));
}
