/**
 * The link between the host and a sandbox's network namespace: a veth pair made by the server
 * (host root), the sandbox end moved into the namespace of the sandbox's init and configured
 * from outside (`nsenter --net` only: the sandbox's user namespace is never entered). Whatever
 * the sandbox's root later changes inside, the host end and its rules stay the server's.
 */
import { spawn } from 'node:child_process';
import { MitosError } from '@mitos/protocol';
import { run, tryRun } from '../host/run.js';
import type { Spawner } from '../host/spawner.js';
import { which } from '../host/which.js';
import type { SlotAddresses } from './addressing.js';

/** A tool's start failed (`code` a string, e.g. ENOENT) or it exited non-zero (`stderr` kept). */
type ToolFailure = Error & { code?: unknown; stderr?: string };

/** Fork the server to run a tool with `script` on stdin (no spawner given). */
function forkTool(file: string, args: string[], script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(Object.assign(new Error(`${file} exited ${code}`), { code, stderr }));
    });
    child.stdin.end(script);
  });
}

/**
 * Run a tool with a script on stdin (ip -batch, nft -f); failures become MitosErrors. With the
 * engine's spawner (host/spawner.ts) the tool is started by it rather than by forking the server.
 */
export async function runScript(file: string, args: string[], script: string, spawner?: Spawner): Promise<void> {
  const path = which(file) ?? file;
  try {
    if (spawner) await spawner.run(path, args, { env: process.env, stdin: script });
    else await forkTool(path, args, script);
  } catch (err) {
    const e = err as ToolFailure;
    if (e instanceof MitosError) throw e;
    if (typeof e.code === 'string') throw new MitosError('host_unsupported', `cannot run ${file}: ${e.message}`);
    throw new MitosError('internal', `${file} ${args.join(' ')} failed: ${(e.stderr ?? '').trim().slice(0, 2000)}`);
  }
}

/** Delete a link; missing is fine. */
async function deleteLink(hostIf: string, spawner?: Spawner): Promise<void> {
  if (spawner) await runScript('ip', ['link', 'del', hostIf], '', spawner).catch(() => {});
  else await tryRun('ip', ['link', 'del', hostIf]);
}

export async function plumbLink(a: SlotAddresses, initPid: number, spawner?: Spawner): Promise<void> {
  // A link left by a crash between here and the row update would make `add` fail: clear it.
  await deleteLink(a.hostIf, spawner);
  await runScript(
    'ip',
    ['-batch', '-'],
    [
      `link add ${a.hostIf} type veth peer name ${a.peerIf} netns ${initPid}`,
      `addr add ${a.host4}/31 dev ${a.hostIf}`,
      `addr add ${a.host6}/64 dev ${a.hostIf} nodad`,
      `link set ${a.hostIf} up`,
    ].join('\n'),
    spawner,
  );
  await runScript(
    'nsenter',
    [`--net=/proc/${initPid}/ns/net`, 'ip', '-batch', '-'],
    [
      `link set ${a.peerIf} name eth0`,
      'link set lo up',
      `addr add ${a.sandbox4}/31 dev eth0`,
      `addr add ${a.sandbox6}/64 dev eth0 nodad`,
      'link set eth0 up',
      `route add default via ${a.host4}`,
      `route add default via ${a.host6}`,
    ].join('\n'),
    spawner,
  );
}

/** Remove the host end (the pair goes with it). Missing is fine: a dead namespace took it. */
export async function unplumbLink(hostIf: string, spawner?: Spawner): Promise<void> {
  await deleteLink(hostIf, spawner);
}

/** Host-side links whose names start with `prefix`. */
export async function listLinks(prefix: string): Promise<string[]> {
  const { stdout } = await run('ip', ['-o', 'link', 'show']);
  const names: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m?.[1]?.startsWith(prefix)) names.push(m[1]);
  }
  return names;
}

/** Routed IPv4 prefixes of the host (to keep our block clear of them). */
export async function hostRoutes4(): Promise<string[]> {
  const { stdout } = await run('ip', ['-4', '-o', 'route', 'show', 'table', 'all']);
  return stdout
    .split('\n')
    .map((l) => l.split(/\s+/).find((w) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(w)) ?? '')
    .filter(Boolean);
}
