/**
 * Older `e2b` releases still in use, unmodified, against the same server: each version's own
 * URL, header and codec rules (2.7's REST calls carry no sandbox header, only the envd token;
 * 2.27 and older create and connect through v1, 2.51 through /v2). Releases before 2.25 send
 * allow_internet_access: true unless told otherwise; the sandbox then gets an egress posture
 * (a network link besides loopback).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as v2_7 from 'e2b-2-7';
import * as v2_14 from 'e2b-2-14';
import * as v2_15 from 'e2b-2-15';
import * as v2_27 from 'e2b-2-27';
import { type E2bServer, e2bServer, useE2bEnvironment } from './fixtures.js';

type Sdk = typeof v2_27;
const VERSIONS: [string, Sdk, boolean][] = [
  ['2.7.0', v2_7 as unknown as Sdk, true],
  ['2.14.1', v2_14 as unknown as Sdk, true],
  ['2.15.0', v2_15 as unknown as Sdk, true],
  ['2.27.0', v2_27, false],
];

describe('older e2b SDK releases against mitos', { timeout: 600_000 }, () => {
  let live: E2bServer;
  before(async () => {
    live = await e2bServer({ templates: ['e2b-base'] });
    useE2bEnvironment(live);
  });
  after(() => live.stop());

  for (const [version, sdk, defaultsToInternet] of VERSIONS) {
    test(`e2b ${version}: create, run, files, list, connect, kill`, async () => {
      if (defaultsToInternet) {
        const online = await sdk.Sandbox.create({ timeoutMs: 60_000 });
        try {
          const links = await online.commands.run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
          assert.ok(links.stdout.split('\n').filter(Boolean).length > 1, links.stdout);
        } finally {
          await online.kill();
        }
      }
      const sb = await sdk.Sandbox.create({ timeoutMs: 60_000, allowInternetAccess: false, metadata: { version } });
      try {
        const r = await sb.commands.run('echo $((20 + 22)); id -un');
        assert.equal(r.stdout, '42\nuser\n');
        await assert.rejects(sb.commands.run('exit 4'), (err: unknown) => {
          assert.ok(err instanceof sdk.CommandExitError);
          assert.equal(err.exitCode, 4);
          return true;
        });
        await sb.files.write('from-sdk.txt', `written by ${version}`);
        assert.equal(await sb.files.read('/home/user/from-sdk.txt'), `written by ${version}`);
        assert.ok((await sb.files.list('/home/user')).some((e) => e.name === 'from-sdk.txt'));
        const listed = await sdk.Sandbox.list({ query: { metadata: { version } } }).nextItems();
        assert.deepEqual(
          listed.map((s) => s.sandboxId),
          [sb.sandboxId],
        );
        const again = await sdk.Sandbox.connect(sb.sandboxId);
        assert.equal((await again.commands.run('cat from-sdk.txt')).stdout, `written by ${version}`);
      } finally {
        await sb.kill();
      }
      await assert.rejects(sdk.Sandbox.getInfo(sb.sandboxId), sdk.NotFoundError);
    });
  }
});
