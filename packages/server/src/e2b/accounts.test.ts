import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Engine } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { type Account, accountFrom, asAccount, lookupAccount, ROOT, USER } from './accounts.js';

const basic = (name: string) => `Basic ${Buffer.from(`${name}:`).toString('base64')}`;

test('a request naming no account acts as the sandbox default; user and root stay reachable', () => {
  const app: Account = { name: 'app', uid: 1500, gid: 1500, home: '/home/app' };
  assert.deepEqual(accountFrom(null), USER);
  assert.deepEqual(accountFrom(null, null, app), app);
  assert.deepEqual(accountFrom(basic('app'), undefined, app), app);
  assert.deepEqual(accountFrom(null, 'user', app), USER);
  assert.deepEqual(accountFrom(basic('root'), undefined, app), ROOT);
  assert.throws(
    () => accountFrom(basic('app')),
    (e: unknown) => e instanceof MitosError && e.code === 'invalid_request',
  );
  // The agent takes the account's ids before the command starts; root needs no switch.
  assert.deepEqual(asAccount(app, ['id', "it's"]), { command: `exec 'id' 'it'\\''s'`, user: 'app' });
  assert.deepEqual(asAccount(ROOT, ['id']), { command: "exec 'id'" });
});

test("a template's account comes from the sandbox's passwd; malformed entries are refused", async () => {
  const passwd = [
    'root:x:0:0:root:/root:/bin/bash',
    'neg:x:-1:0::/home/neg:/bin/sh',
    'big:x:70000:70000::/home/big:/bin/sh',
    'empty:x::::/:/bin/sh',
    'rel:x:1600:1600::home/rel:/bin/sh',
    'app:x:1500:1501:App:/home/app:/bin/bash',
  ].join('\n');
  const engine = { files: { read: async () => Buffer.from(passwd) } } as unknown as Engine;
  assert.deepEqual(await lookupAccount(engine, 'sb', 'app'), { name: 'app', uid: 1500, gid: 1501, home: '/home/app' });
  assert.deepEqual(await lookupAccount(engine, 'sb', 'root'), ROOT);
  for (const name of ['neg', 'big', 'empty', 'rel', 'absent']) {
    await assert.rejects(
      lookupAccount(engine, 'sb', name),
      (e: unknown) => e instanceof MitosError && e.code === 'invalid_request',
      name,
    );
  }
});
