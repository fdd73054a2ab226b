import assert from 'node:assert/strict';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { chainKeys, mergeLayer, tarLayer } from './layers.js';

describe('OCI layer merge (whiteouts, opaque directories, links never followed)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mitos-test-layers-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function tree(name: string, files: Record<string, string>): string {
    const root = join(dir, name);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      if (path.endsWith('/')) mkdirSync(join(root, path), { recursive: true });
      else writeFileSync(join(root, path), text);
    }
    return root;
  }
  const exists = (path: string) => {
    try {
      lstatSync(path);
      return true;
    } catch {
      return false;
    }
  };

  test('a whiteout removes the lower entry, an opaque directory hides all lower children, new files land', () => {
    const lower = tree('lower', {
      'etc/keep': 'keep',
      'etc/gone': 'gone',
      'var/lib/old/a': '1',
      'var/lib/old/b': '2',
      'usr/bin/tool': 'v1',
    });
    const layer = tree('layer', {
      'etc/.wh.gone': '',
      'var/lib/old/.wh..wh..opq': '',
      'var/lib/old/c': '3',
      'usr/bin/tool': 'v2',
      'new/file': 'n',
    });
    mergeLayer(layer, lower);
    assert.equal(readFileSync(join(lower, 'etc/keep'), 'utf8'), 'keep');
    assert.equal(exists(join(lower, 'etc/gone')), false);
    assert.equal(exists(join(lower, 'etc/.wh.gone')), false);
    assert.deepEqual(
      ['a', 'b', 'c', '.wh..wh..opq'].map((n) => exists(join(lower, 'var/lib/old', n))),
      [false, false, true, false],
    );
    assert.equal(readFileSync(join(lower, 'usr/bin/tool'), 'utf8'), 'v2');
    assert.equal(readFileSync(join(lower, 'new/file'), 'utf8'), 'n');
  });

  test('a layer directory over a lower symlink is refused, never written through; a layer symlink replaces', () => {
    const outside = tree('outside', { 'victim/': '' });
    const lower = tree('lower2', { 'usr/': '' });
    symlinkSync(join(outside, 'victim'), join(lower, 'lib'));
    const layer = tree('layer2', { 'lib/evil': 'x' });
    assert.throws(() => mergeLayer(layer, lower), /lib, a symbolic link/);
    assert.equal(exists(join(outside, 'victim/evil')), false);
    assert.ok(lstatSync(join(lower, 'lib')).isSymbolicLink());
    const layer3 = join(dir, 'layer3');
    mkdirSync(layer3);
    symlinkSync('/etc', join(layer3, 'usr'));
    mergeLayer(layer3, lower);
    assert.equal(readlinkSync(join(lower, 'usr')), '/etc');
  });

  test('chain keys depend on every layer below and the uid range; only tar layers are applied', () => {
    const [l1, l2] = [`sha256:${'1'.repeat(64)}`, `sha256:${'2'.repeat(64)}`];
    const ab = chainKeys([{ digest: l1 }, { digest: l2 }], 100000);
    assert.equal(chainKeys([{ digest: l1 }], 100000)[0], ab[0]);
    assert.notEqual(chainKeys([{ digest: l2 }], 100000)[0], ab[1]);
    assert.notEqual(chainKeys([{ digest: l1 }], 200000)[0], ab[0]);
    assert.match(ab[1] as string, /^chain-[0-9a-f]{64}$/);
    assert.ok(tarLayer({ digest: l1, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }));
    assert.ok(tarLayer({ digest: l1, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' }));
    assert.equal(tarLayer({ digest: l1, mediaType: 'application/vnd.oci.image.layer.v1.tar+encrypted' }), false);
  });
});
