import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeBase64, ndjsonObjects } from './ndjson.js';

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? new TextEncoder().encode(p) : p;
}

async function collect(it: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const v of it) out.push(v);
  return out;
}

describe('ndjsonObjects', () => {
  test('joins lines split across chunks, splits chunks holding many lines, skips blank lines', async () => {
    const got = await collect(ndjsonObjects(chunks('{"a":', '1}\n\n{"b":2}\n{"c"', ':3}\n  \n'), 'test'));
    assert.deepEqual(got, [{ a: 1 }, { b: 2 }, { c: 3 }]);
  });

  test('a last line without its newline still counts', async () => {
    assert.deepEqual(await collect(ndjsonObjects(chunks('{"a":1}\n{"b":2}'), 'test')), [{ a: 1 }, { b: 2 }]);
  });

  test('a multi-byte character split between chunks survives', async () => {
    const bytes = new TextEncoder().encode('{"s":"é"}\n');
    const cut = bytes.indexOf(0xc3) + 1;
    const got = await collect(ndjsonObjects(chunks(bytes.subarray(0, cut), bytes.subarray(cut)), 'test'));
    assert.deepEqual(got, [{ s: 'é' }]);
  });

  test('a line that is not JSON, or not an object, is invalid_response', async () => {
    await assert.rejects(collect(ndjsonObjects(chunks('{"a":1}\nnope\n'), 'test')), { code: 'invalid_response' });
    await assert.rejects(collect(ndjsonObjects(chunks('[1,2]\n'), 'test')), { code: 'invalid_response' });
  });
});

describe('decodeBase64', () => {
  test('decodes padded base64 and refuses anything else', () => {
    assert.deepEqual(decodeBase64('aGk='), new Uint8Array([104, 105]));
    assert.deepEqual(decodeBase64(''), new Uint8Array(0));
    assert.equal(decodeBase64('hello world'), undefined);
    assert.equal(decodeBase64('abc'), undefined);
  });
});
