/**
 * The exec round trip over the Connect wire (sandbox.v1 ExecStream), with a client generated
 * from the same proto, JSON codec over HTTP/1.1 keep-alive: the shape the 0.3.x clients use.
 * @module
 */
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Sandbox } from '@mitos/server/connect';
import type { BenchEnv } from './bench-env.js';

/** Runs `command` in `sandboxId` and resolves its exit code. */
export type ConnectExec = (command: string) => Promise<number>;

export function connectExec(env: BenchEnv, sandboxId: string, useBinaryFormat = false): ConnectExec {
  const client = createClient(
    Sandbox,
    createConnectTransport({ baseUrl: env.url, httpVersion: '1.1', useBinaryFormat }),
  );
  const headers: Record<string, string> = { 'X-Sandbox-Id': sandboxId };
  if (env.apiKey) headers.Authorization = `Bearer ${env.apiKey}`;
  return async (command) => {
    let exitCode: number | undefined;
    for await (const reply of client.execStream({ command, timeoutSeconds: 30 }, { headers })) {
      if (reply.msg.case === 'exit') exitCode = reply.msg.value.exitCode;
    }
    if (exitCode === undefined) throw new Error('the exec stream ended without an exit');
    return exitCode;
  };
}
