/**
 * Network posture attacks: from inside a sandbox (host ports, metadata, another sandbox, a
 * rewritten resolv.conf), and from a local host user (a sandbox's port under inbound deny).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { LinuxEngine } from '@mitos/engine';
import { shellOf, testEngineEnv, until } from '@mitos/testkit';

const execFileAsync = promisify(execFile);

// Connect from the host as the unprivileged `nobody`: prints OK or ERR.
const NOBODY_CONNECT = `const s=require('net').connect({host:process.argv[1],port:+process.argv[2],timeout:3000});
s.on('connect',()=>{console.log('OK');process.exit(0)});s.on('error',()=>{console.log('ERR');process.exit(0)});
s.on('timeout',()=>{console.log('ERR');process.exit(0)});`;

describe('hardening: sandbox network postures', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let engine: LinuxEngine;
  const sh = shellOf(() => engine, 30_000);
  const open = `hn-open-${process.pid}`;
  const closed = `hn-closed-${process.pid}`;

  before(async () => {
    engine = await env.open();
    await engine.ensureTemplate({ id: 'python' });
    await engine.create({ id: open, templateId: 'python', network: { egress: 'allow', inbound: 'allow' } });
    await engine.create({ id: closed, templateId: 'python', network: { egress: 'allow', inbound: 'deny' } });
    for (const id of [open, closed]) await sh(id, 'nohup python3 -m http.server 8080 >/dev/null 2>&1 &');
  });
  after(() => env.cleanup());

  const addressOf = (id: string) => {
    const slot = engine.network.slots.get(id)?.slot;
    assert.ok(slot, `${id} has a link`);
    const n = (10 << 24) + engine.network.identity.v4Block * 1024 + 2 * slot + 1;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  };
  const asNobody = async (host: string, port: number) =>
    (
      await execFileAsync('setpriv', [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        '-e',
        NOBODY_CONNECT,
        host,
        String(port),
      ])
    ).stdout.trim();

  test('a local user reaches a sandbox port only where its posture lets inbound in', async () => {
    await until(async () => (await asNobody(addressOf(open), 8080)) === 'OK', 20_000, 'the open sandbox to answer');
    assert.equal(await asNobody(addressOf(closed), 8080), 'ERR');
  });

  test('from inside: another sandbox, the host and metadata stay shut whatever resolv.conf says', async () => {
    const probe = (host: string, port: number) =>
      sh(
        closed,
        `python3 -c 'import socket,sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); print("OK")
except Exception: print("ERR")' ${host} ${port}`,
      );
    await sh(closed, 'echo nameserver 169.254.169.254 > /etc/resolv.conf');
    assert.equal((await probe(addressOf(open), 8080)).out.trim(), 'ERR');
    assert.equal((await probe('169.254.169.254', 80)).out.trim(), 'ERR');
    assert.equal((await probe('169.254.169.254', 53)).out.trim(), 'ERR');
    assert.equal((await probe('127.0.0.1', 8080)).out.trim(), 'OK'); // its own loopback is its own
  });
});
