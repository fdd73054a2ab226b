import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DENY_POSTURE } from '@mitos/protocol';
import { openDatabase } from '../state/database.js';
import { StateStore, type TemplateRow } from '../state/store.js';
import { IMAGES } from '../templates/images.js';
import { currentBuiltinRow } from './builtin-template.js';
import type { SandboxDriver } from './driver.js';

const OPEN_EGRESS = { ...DENY_POSTURE, egress: 'allow' as const };

/** A store holding one template row, and a driver whose image for every recipe has `key`. */
function setUp(row: Partial<TemplateRow> & { id: string }, key: string) {
  const store = new StateStore(openDatabase(':memory:'));
  const stored: TemplateRow = {
    image: row.id,
    imageKey: 'old-key',
    ready: true,
    createdAt: new Date(0),
    creationTimeMs: 5,
    network: OPEN_EGRESS,
    limits: { memoryBytes: 1, cpus: 1, pids: 1 },
    ...row,
  };
  store.upsertTemplate(stored);
  const prepared: string[] = [];
  const dropped: string[] = [];
  const driver = {
    prepareTemplate: async (id: string) => {
      prepared.push(id);
      return key;
    },
  } as unknown as SandboxDriver;
  const deps = { driver, store, dropPooled: async (id: string) => void dropped.push(id) };
  return { store, stored, deps, prepared, dropped };
}

test('a built-in row whose recipe changed moves to the new key, keeps its network and loses its pool', async () => {
  const { store, stored, deps, prepared, dropped } = setUp({ id: 'python' }, 'new-key');
  const row = await currentBuiltinRow(deps, stored);
  assert.deepEqual(prepared, ['python']);
  assert.equal(row.imageKey, 'new-key');
  assert.equal(store.template('python')?.imageKey, 'new-key');
  assert.deepEqual(store.template('python')?.network, OPEN_EGRESS);
  assert.deepEqual(store.template('python')?.limits, IMAGES.python.limits);
  assert.deepEqual(dropped, ['python']);
});

test('a current built-in row is left as it is', async () => {
  const { store, stored, deps, dropped } = setUp({ id: 'node', imageKey: 'same' }, 'same');
  const row = await currentBuiltinRow(deps, stored);
  assert.equal(row.imageKey, 'same');
  assert.equal(store.template('node')?.createdAt.getTime(), 0);
  assert.deepEqual(dropped, []);
});

test('rows built from a spec or imported are never re-prepared', async () => {
  const { stored, deps, prepared } = setUp(
    { id: 'python', config: { env: {}, workdir: '/', steps: [], baseDigest: 'x' } as TemplateRow['config'] },
    'new-key',
  );
  assert.equal((await currentBuiltinRow(deps, stored)).imageKey, 'old-key');
  assert.deepEqual(prepared, []);
});

test('a row deleted while its image was prepared stays deleted', async () => {
  const { store, stored, deps } = setUp({ id: 'base' }, 'new-key');
  const driver = deps.driver as unknown as { prepareTemplate: () => Promise<string> };
  driver.prepareTemplate = async () => {
    store.deleteTemplate('base');
    return 'new-key';
  };
  await currentBuiltinRow(deps, stored);
  assert.equal(store.template('base'), undefined);
});
