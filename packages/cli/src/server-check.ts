/** Is the base URL a mitos server? Used by `auth whoami` and `doctor`. */
import { AgentRunError, type ClientOptions, type HealthInfo, resolveConfig, SandboxServer } from '@mitos/sdk';

export type ServerProbe =
  | { kind: 'mitos'; baseUrl: string; health: HealthInfo }
  | { kind: 'none' | 'other'; baseUrl: string; error: AgentRunError };

/** A health answer is mitos's (or the seed's) when it is an object with `status` "ok". */
export function isMitosHealth(health: unknown): health is HealthInfo {
  return typeof health === 'object' && health !== null && (health as { status?: unknown }).status === 'ok';
}

export async function probeServer(client: ClientOptions): Promise<ServerProbe> {
  const { baseUrl } = resolveConfig(client);
  try {
    const health = await SandboxServer.fromAuth(client).health({ signal: AbortSignal.timeout(5000) });
    if (isMitosHealth(health)) return { kind: 'mitos', baseUrl, health };
    return {
      kind: 'other',
      baseUrl,
      error: new AgentRunError({
        code: 'not_mitos_server',
        message: 'the base URL answers, but not as a mitos server',
        cause: `GET /v1/health answered ${JSON.stringify(health).slice(0, 200)}, not {"status":"ok",...}`,
        remediation: 'point --base-url (or MITOS_BASE_URL) at a `mitos serve` address, e.g. http://127.0.0.1:8080',
      }),
    };
  } catch (err) {
    if (!(err instanceof AgentRunError)) throw err;
    if (err.code === 'connection_failed') return { kind: 'none', baseUrl, error: err };
    if (err.code === 'not_mitos_server' || err.code === 'invalid_response' || err.code === 'not_found') {
      return { kind: 'other', baseUrl, error: err };
    }
    // Anything else (a rejected key, a timeout) is the server's to explain.
    throw err;
  }
}
