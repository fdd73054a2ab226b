import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FALLBACK_MIRROR, mirrorFromDeb822, mirrorFromSourcesList, resolveMirror } from './mirror.js';

const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
`;

describe('debian mirror', () => {
  const dir = mkdtempSync('/tmp/mitos-test-mirror-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('deb822: the first binary, non-security URI', () => {
    assert.equal(mirrorFromDeb822(DEB822), 'http://mirror.example/debian');
    assert.equal(
      mirrorFromDeb822(
        `Types: deb-src\nURIs: http://src.example/debian\n\nTypes: deb\nURIs: http://bin.example/debian\n`,
      ),
      'http://bin.example/debian',
    );
    assert.equal(mirrorFromDeb822(`Types: deb\nURIs: http://security.debian.org/debian-security\n`), undefined);
    assert.equal(mirrorFromDeb822(`Enabled: no\nTypes: deb\nURIs: http://off.example/debian\n`), undefined);
  });

  test('sources.list: the first deb line, options allowed, comments skipped', () => {
    const text =
      '# deb http://commented.example/debian bookworm main\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\ndeb http://two.example/debian bookworm main\n';
    assert.equal(mirrorFromSourcesList(text), 'http://one.example/debian');
    assert.equal(mirrorFromSourcesList(''), undefined);
  });

  test('precedence: explicit, then MITOS_DEBIAN_MIRROR, then apt sources, then deb.debian.org', () => {
    const apt = join(dir, 'apt');
    mkdirSync(join(apt, 'sources.list.d'), { recursive: true });
    assert.equal(resolveMirror(undefined, {}, apt), FALLBACK_MIRROR);
    writeFileSync(join(apt, 'sources.list'), 'deb http://list.example/debian bookworm main\n');
    assert.equal(resolveMirror(undefined, {}, apt), 'http://list.example/debian');
    writeFileSync(join(apt, 'sources.list.d', 'debian.sources'), DEB822);
    assert.equal(resolveMirror(undefined, {}, apt), 'http://mirror.example/debian');
    assert.equal(
      resolveMirror(undefined, { MITOS_DEBIAN_MIRROR: 'http://env.example/debian' }, apt),
      'http://env.example/debian',
    );
    assert.equal(
      resolveMirror('http://explicit.example/debian', { MITOS_DEBIAN_MIRROR: 'http://env.example/debian' }, apt),
      'http://explicit.example/debian',
    );
  });
});
