import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { thrownCode } from '@mitos/testkit';
import { PreviewSigner } from './token.js';

const SECRET = Buffer.from('0123456789abcdef-test-secret');
const signer = new PreviewSigner(SECRET);
const claims = { sandbox: 'sb-1', port: 3000, expiresUnix: 2_000_000_000 };

describe('preview tokens', () => {
  it('are the seed format: base64url JSON {s,p,e} dot base64url HMAC over the separator and payload', () => {
    const token = signer.sign(claims);
    const [payload, signature] = token.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(payload as string, 'base64url').toString()), {
      s: 'sb-1',
      p: 3000,
      e: 2_000_000_000,
    });
    const expected = createHmac('sha256', SECRET)
      .update(Buffer.concat([Buffer.from('mitos-preview-v1'), Buffer.from([0]), Buffer.from(payload as string)]))
      .digest('base64url');
    assert.equal(signature, expected);
    assert.doesNotMatch(token, /[=+/]/);
  });

  it('verify returns the claims of a genuine unexpired token', () => {
    assert.deepEqual(signer.verify(signer.sign(claims), 1_999_999_999), claims);
    assert.deepEqual(signer.verify(signer.sign(claims), 1_000, 'SB-1'), claims);
  });

  it('negative: a bad signature, another secret, or a tampered payload is 403 forbidden', () => {
    const token = signer.sign(claims);
    const [payload, signature] = token.split('.') as [string, string];
    const flipped = `${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    const other = new PreviewSigner(Buffer.from('another-secret-of-16+')).sign(claims);
    const tampered = `${Buffer.from(JSON.stringify({ s: 'sb-1', p: 22, e: 2_000_000_000 })).toString('base64url')}.${signature}`;
    for (const bad of [flipped, other, tampered, 'x', '', 'a.b.c', `${payload}.`, `${payload}.!!`]) {
      assert.equal(
        thrownCode(() => signer.verify(bad, 1)),
        'forbidden',
        bad,
      );
    }
  });

  it('negative: an expired token is 403 forbidden', () => {
    const token = signer.sign({ ...claims, expiresUnix: 100 });
    assert.equal(
      thrownCode(() => signer.verify(token, 100)),
      'forbidden',
    );
    assert.equal(
      thrownCode(() => signer.verify(token, 99)),
      undefined,
    );
  });

  it('negative: a token for another sandbox is 403 forbidden', () => {
    assert.equal(
      thrownCode(() => signer.verify(signer.sign(claims), 1, 'sb-2')),
      'forbidden',
    );
  });

  it('negative: a genuine signature over unusable claims is refused', () => {
    const weird = new PreviewSigner(SECRET).sign({ sandbox: '../etc', port: 0, expiresUnix: 2e9 });
    assert.equal(
      thrownCode(() => signer.verify(weird, 1)),
      'forbidden',
    );
  });
});
