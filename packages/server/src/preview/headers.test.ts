import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cookieValue, toClientHeaders, toGuestHeaders, withoutCookie } from './headers.js';

const forwarding = { port: 3000, publicHost: 'mitos.example:8080', publicProto: 'http' as const, prefix: '/preview/t' };

describe('preview proxy headers', () => {
  it('drops hop-by-hop headers (and those Connection names) and rewrites Host for the guest', () => {
    const out = toGuestHeaders(
      [
        ['Host', 'mitos.example:8080'],
        ['Connection', 'keep-alive, X-Secret-Hop'],
        ['Keep-Alive', 'timeout=5'],
        ['X-Secret-Hop', '1'],
        ['Transfer-Encoding', 'chunked'],
        ['Accept', 'text/html'],
      ],
      forwarding,
      false,
    );
    assert.deepEqual(out, [
      ['Accept', 'text/html'],
      ['Host', 'localhost:3000'],
      ['X-Forwarded-Host', 'mitos.example:8080'],
      ['X-Forwarded-Proto', 'http'],
      ['X-Forwarded-Prefix', '/preview/t'],
    ]);
  });

  it('keeps a WebSocket handshake whole and respects forwarding headers set upstream', () => {
    const out = toGuestHeaders(
      [
        ['Connection', 'Upgrade'],
        ['Upgrade', 'websocket'],
        ['Sec-WebSocket-Key', 'k'],
        ['X-Forwarded-Proto', 'https'],
      ],
      { ...forwarding, prefix: undefined },
      true,
    );
    assert.deepEqual(out, [
      ['Connection', 'Upgrade'],
      ['Upgrade', 'websocket'],
      ['Sec-WebSocket-Key', 'k'],
      ['X-Forwarded-Proto', 'https'],
      ['Host', 'localhost:3000'],
      ['X-Forwarded-Host', 'mitos.example:8080'],
    ]);
  });

  it('never passes the preview token cookie to the guest', () => {
    const out = toGuestHeaders([['Cookie', 'mitos_preview_token=abc.def']], forwarding, false);
    assert.equal(
      out.find(([n]) => n === 'Cookie'),
      undefined,
    );
    assert.equal(withoutCookie('a=1; mitos_preview_token=x; b=2', 'mitos_preview_token'), 'a=1; b=2');
    assert.equal(cookieValue('a=1; mitos_preview_token=x.y=', 'mitos_preview_token'), 'x.y=');
    assert.equal(cookieValue(undefined, 'mitos_preview_token'), undefined);
  });

  it('keeps repeated response headers such as Set-Cookie and drops hop-by-hop ones', () => {
    const headers = toClientHeaders(['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Connection', 'close', 'X-A', 'v']);
    assert.deepEqual(headers.getSetCookie(), ['a=1', 'b=2']);
    assert.equal(headers.get('connection'), null);
    assert.equal(headers.get('x-a'), 'v');
  });

  it('drops a wider service worker scope and site-data clearing only when the preview shares the origin', () => {
    const raw = ['Service-Worker-Allowed', '/', 'Clear-Site-Data', '"storage"', 'X-A', 'v'];
    const shared = toClientHeaders(raw, true);
    assert.equal(shared.get('service-worker-allowed'), null);
    assert.equal(shared.get('clear-site-data'), null);
    assert.equal(shared.get('x-a'), 'v');
    // On its own host (host form) the guest's origin is its own.
    assert.equal(toClientHeaders(raw).get('service-worker-allowed'), '/');
  });
});
