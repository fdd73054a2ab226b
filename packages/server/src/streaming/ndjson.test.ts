import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ndjsonResponse } from './ndjson.js';

describe('ndjsonResponse', () => {
  it('writes one JSON object per line and calls onClose once when the producer ends', async () => {
    let closes = 0;
    const res = ndjsonResponse({
      clientSignal: new AbortController().signal,
      onClose: () => closes++,
      run: (out) => {
        out.send({ a: 1 });
        out.send({ b: 'x\ny' });
        out.end();
        out.send({ late: true });
        out.end();
      },
    });
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    assert.equal(await res.text(), '{"a":1}\n{"b":"x\\ny"}\n');
    assert.equal(closes, 1);
  });

  it('aborts the producer signal and calls onClose when the body is cancelled', async () => {
    let closes = 0;
    let signal: AbortSignal | undefined;
    const res = ndjsonResponse({
      clientSignal: new AbortController().signal,
      onClose: () => closes++,
      run: (out) => {
        signal = out.signal;
        out.send({ first: true });
      },
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel();
    assert.equal(signal?.aborted, true);
    assert.equal(closes, 1);
  });

  it('calls onClose when the client signal aborts, even if the producer never ends', async () => {
    let closes = 0;
    const client = new AbortController();
    ndjsonResponse({ clientSignal: client.signal, onClose: () => closes++, run: () => {} });
    client.abort();
    assert.equal(closes, 1);
  });

  it('errors the body (no terminal line) when the producer throws', async () => {
    let closes = 0;
    const res = ndjsonResponse({
      clientSignal: new AbortController().signal,
      onClose: () => closes++,
      run: (out) => {
        out.send({ partial: true });
        throw new Error('bug');
      },
    });
    await assert.rejects(res.text());
    assert.equal(closes, 1);
  });
});
