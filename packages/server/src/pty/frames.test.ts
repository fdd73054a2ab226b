import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClientFrame, parseDimension } from './frames.js';

describe('terminal frames', () => {
  it('parses input and resize frames and ignores everything else', () => {
    assert.deepEqual(parseClientFrame(JSON.stringify({ kind: 'input', data: Buffer.from('hi').toString('base64') })), {
      kind: 'input',
      data: Buffer.from('hi'),
    });
    assert.deepEqual(parseClientFrame('{"kind":"resize","cols":120,"rows":40}'), {
      kind: 'resize',
      cols: 120,
      rows: 40,
    });
    for (const text of [
      'nope',
      'null',
      '[]',
      '{"kind":"input"}',
      '{"kind":"resize","cols":0,"rows":1}',
      '{"kind":"x"}',
    ]) {
      assert.equal(parseClientFrame(text), undefined, text);
    }
  });

  it('reads cols and rows as the seed does: digits only, 1..100000, else the default', () => {
    const cases: Array<[string | undefined, number]> = [
      ['132', 132],
      ['100000', 100_000],
      ['100001', 80],
      ['0', 80],
      ['-1', 80],
      ['12x', 80],
      [' 12', 80],
      ['', 80],
      [undefined, 80],
    ];
    for (const [raw, expected] of cases) assert.equal(parseDimension(raw, 80), expected, String(raw));
  });
});
