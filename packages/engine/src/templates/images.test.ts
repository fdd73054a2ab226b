import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BUILDER_VERSION, DEFAULT_IMAGE, IMAGES, type ImageSpec, imageKey, resolveImage } from './images.js';

describe('image catalogue', () => {
  test('resolveImage maps catalogue names, aliases, and anything else to the default', () => {
    const cases: Array<[string, string]> = [
      ['python', 'python'],
      ['node', 'node'],
      ['base', 'base'],
      ['python3', 'python'],
      ['python:3.11', 'python'],
      ['Python-3.12-slim', 'python'],
      ['nodejs', 'node'],
      ['node:20', 'node'],
      ['node-lts', 'node'],
      ['debian', 'base'],
      ['debian:bookworm', 'base'],
      ['ubuntu:22.04', 'base'],
      ['bash', 'base'],
      ['shell', 'base'],
      ['code-interpreter', 'code-interpreter'],
      ['code-interpreter-v1', 'code-interpreter'],
      ['e2b-base', 'e2b-base'],
      ['e2b-node', 'e2b-node'],
      ['my-agent-template', DEFAULT_IMAGE],
      ['sandbox-1234abcd', DEFAULT_IMAGE],
      ['', DEFAULT_IMAGE],
    ];
    for (const [id, expected] of cases)
      assert.equal(resolveImage(id).name, expected, `template id ${JSON.stringify(id)}`);
  });

  test('every image has sane default limits and bookworm minbase', () => {
    for (const image of Object.values(IMAGES)) {
      assert.equal(image.suite, 'bookworm');
      assert.equal(image.variant, 'minbase');
      assert.ok(image.limits.memoryBytes >= 256 * 1024 * 1024);
      assert.ok(image.limits.pids >= 64);
      assert.ok(image.limits.cpus > 0);
    }
    assert.ok(IMAGES.python.packages.includes('python3-numpy'));
    assert.ok(IMAGES.node.packages.includes('nodejs'));
  });

  test('the key is a sha256 that ignores package order, duplicates and the image name', () => {
    const a: ImageSpec = { ...IMAGES.node, packages: [...IMAGES.node.packages].reverse() };
    const b: ImageSpec = {
      ...IMAGES.node,
      name: 'renamed',
      packages: [...IMAGES.node.packages, 'npm'],
    };
    assert.match(imageKey(a, 100_000), /^[0-9a-f]{64}$/);
    assert.equal(imageKey(a, 100_000), imageKey(b, 100_000));
    assert.equal(imageKey(IMAGES.node, 100_000), imageKey(a, 100_000));
  });

  test('the key changes with the packages, the suite and the uid base', () => {
    const key = imageKey(IMAGES.base, 100_000);
    assert.notEqual(imageKey({ ...IMAGES.base, packages: [...IMAGES.base.packages, 'wget'] }, 100_000), key);
    assert.notEqual(imageKey({ ...IMAGES.base, suite: 'trixie' }, 100_000), key);
    assert.notEqual(imageKey(IMAGES.base, 200_000), key);
    const keys = new Set(Object.values(IMAGES).map((i) => imageKey(i, 100_000)));
    assert.equal(keys.size, Object.keys(IMAGES).length);
  });

  test("a layer's key follows its parent's; a layer leaves its parent's key alone", () => {
    const layer = IMAGES['e2b-base'];
    assert.equal(layer.from, IMAGES.base);
    const key = imageKey(layer, 100_000);
    const otherParent = { ...layer, from: { ...IMAGES.base, packages: [...IMAGES.base.packages, 'wget'] } };
    assert.notEqual(imageKey(otherParent, 100_000), key);
    assert.notEqual(imageKey({ ...layer, from: undefined }, 100_000), key);
    assert.equal(imageKey(IMAGES.base, 100_000), KNOWN_BASE_KEY);
  });

  test('the key is stable across runs (a change here invalidates every cache: bump BUILDER_VERSION instead)', () => {
    assert.equal(BUILDER_VERSION, 2);
    assert.equal(
      imageKey(
        { name: 'x', suite: 'bookworm', variant: 'minbase', packages: ['b', 'a'], limits: IMAGES.base.limits },
        100_000,
      ),
      imageKey(
        { name: 'y', suite: 'bookworm', variant: 'minbase', packages: ['a', 'b'], limits: IMAGES.python.limits },
        100_000,
      ),
    );
    assert.equal(imageKey(IMAGES.base, 100_000), KNOWN_BASE_KEY);
  });
});

// sha256 of {"builder":2,"suite":"bookworm","variant":"minbase","packages":["ca-certificates","curl","git","make","procps"],"uidBase":100000}
const KNOWN_BASE_KEY = 'c37c747bd1681e42c198e690f90aa5276796139329e7778852b0c3fdd9dfebc9';
