/**
 * The code interpreter's HTTP routes (E2b-Sandbox-Port 49999): /execute as NDJSON, /contexts.
 * Errors are plain text with the status, which is what the SDK's extractError reads.
 */
import { MitosError } from '@mitos/protocol';
import type { Accounts } from './accounts.js';
import { readRequestJson } from './body.js';
import { type CellPlan, type CodeContexts, planCell, runCell } from './code-interpreter.js';
import type { E2bContext } from './context.js';
import type { EnvdCall } from './envd/request.js';

export async function codeInterpreterRoute(
  ctx: E2bContext,
  accounts: Accounts,
  contexts: CodeContexts,
  call: EnvdCall,
  path: string,
  req: Request,
): Promise<Response> {
  await accounts.ready(call.sandboxId);
  const id = call.sandboxId;
  if (path === '/health' && req.method === 'GET') return new Response('OK');
  if (path === '/execute' && req.method === 'POST') {
    const plan = planCell(contexts, id, (await readRequestJson(req)) as Parameters<typeof planCell>[2]);
    return executeStream(ctx, contexts, call, plan, req.signal);
  }
  if (path === '/contexts' && req.method === 'GET') return Response.json(contexts.list(id));
  if (path === '/contexts' && req.method === 'POST') {
    const body = (await readRequestJson(req)) as { language?: unknown; cwd?: unknown };
    return Response.json(await contexts.create(id, body.language, body.cwd));
  }
  const m = /^\/contexts\/([^/]+)(\/restart)?$/.exec(path);
  if (m && m[2] === '/restart' && req.method === 'POST') {
    await contexts.restart(id, decodeURIComponent(m[1] as string));
    return new Response(null, { status: 204 });
  }
  if (m && !m[2] && req.method === 'DELETE') {
    await contexts.remove(id, decodeURIComponent(m[1] as string));
    return new Response(null, { status: 204 });
  }
  throw new MitosError('not_found', `the code interpreter has no route ${req.method} ${path}`);
}

function executeStream(
  ctx: E2bContext,
  contexts: CodeContexts,
  call: EnvdCall,
  plan: CellPlan,
  clientSignal: AbortSignal,
): Response {
  const encoder = new TextEncoder();
  const abort = new AbortController();
  const onClientGone = () => abort.abort();
  clientSignal.addEventListener('abort', onClientGone, { once: true });
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (line: Record<string, unknown>) => {
        if (!abort.signal.aborted) controller.enqueue(encoder.encode(`${JSON.stringify(line)}\n`));
      };
      try {
        await runCell(ctx, contexts, call.sandboxId, plan, call.envVars, abort.signal, send);
      } catch (err) {
        const e = err instanceof MitosError ? err : new MitosError('internal', 'the cell failed', {}, { cause: err });
        if (e.status >= 500) ctx.logger.error({ err }, 'e2b execute failed');
        send({ type: 'error', name: e.code, value: e.detail || e.message, traceback: '' });
      } finally {
        clientSignal.removeEventListener('abort', onClientGone);
        try {
          controller.close();
        } catch {
          // The client went away and the stream was cancelled already.
        }
      }
    },
    cancel() {
      abort.abort();
    },
  });
  return new Response(stream, { headers: { 'Content-Type': 'application/x-ndjson' } });
}
