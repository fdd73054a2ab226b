import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveNetwork } from './network.js';

describe('resolveNetwork', () => {
  it('defaults to deny both ways, and empty modes mean deny', () => {
    assert.deepEqual(resolveNetwork(undefined), { egress: 'deny', inbound: 'deny' });
    assert.deepEqual(resolveNetwork({}), { egress: 'deny', inbound: 'deny' });
    assert.deepEqual(resolveNetwork({ egress: '', inbound: 'allow' }), { egress: 'deny', inbound: 'allow' });
  });

  it('keeps only non-empty lists and block when true', () => {
    assert.deepEqual(
      resolveNetwork({ block: true, allow_cidrs: ['10.0.0.0/8', 'fd00::/8'], allow_domains: [], inbound_cidrs: [] }),
      { egress: 'deny', inbound: 'deny', block: true, allow_cidrs: ['10.0.0.0/8', 'fd00::/8'] },
    );
  });

  it('rejects bad modes and CIDRs with an "invalid network config" cause', () => {
    for (const raw of [
      { egress: 'yes' },
      { allow_cidrs: ['1.2.3.4/'] },
      { allow_cidrs: ['1.2.3/8'] },
      { inbound_cidrs: ['::/-1'] },
      5,
    ]) {
      assert.throws(
        () => resolveNetwork(raw),
        (err: { code: string; detail: string }) => {
          assert.equal(err.code, 'invalid_json');
          assert.match(err.detail, /^invalid network config: /);
          return true;
        },
      );
    }
  });

  it('names the offending entry of a list', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ allow_cidrs: ['10.0.0.0/8', '10.0.0.0/33'] }, /allow_cidrs\.1: "10\.0\.0\.0\/33"/],
      [{ allow_cidrs: ['203.0.113.0/24:70000'] }, /allow_cidrs\.0/],
      [{ allow_domains: ['pypi.org'] }, /allow_domains\.0: "pypi\.org" is not host:port/],
      [{ allow_domains: ['ok.example:443', 'bad_name!:443'] }, /allow_domains\.1/],
      [{ inbound_cidrs: ['10.0.0.0/8:22'] }, /inbound_cidrs\.0/],
    ];
    for (const [raw, pattern] of cases) {
      assert.throws(
        () => resolveNetwork(raw),
        (err: { code: string; detail: string }) => {
          assert.equal(err.code, 'invalid_json');
          assert.match(err.detail, pattern);
          return true;
        },
      );
    }
  });

  it('accepts ports on CIDRs and wildcard domains', () => {
    assert.deepEqual(
      resolveNetwork({
        egress: 'deny',
        allow_cidrs: ['203.0.113.7/32:443', 'fd00::/8:53'],
        allow_domains: ['*.example.com:443'],
      }),
      {
        egress: 'deny',
        inbound: 'deny',
        allow_cidrs: ['203.0.113.7/32:443', 'fd00::/8:53'],
        allow_domains: ['*.example.com:443'],
      },
    );
  });
});
