/** create_sandbox, fork, terminate, list_sandboxes, list_templates. @module */
import type { z } from 'zod';
import type { ToolCallContext, ToolOutput } from './output.js';
import { textOutput } from './output.js';
import type { CreateSandboxInput, ForkInput, TerminateInput } from './schemas.js';
import type { ToolSession } from './session.js';

export async function createSandboxTool(
  session: ToolSession,
  input: z.output<typeof CreateSandboxInput>,
  ctx: ToolCallContext,
): Promise<ToolOutput> {
  const server = session.requireServer('create_sandbox');
  // As `create()` does: a template this server has not built yet is built (or taken from cache) first.
  await server.ensureTemplate(input.template, { signal: ctx.signal });
  const sandbox = await server.fork(input.template, { signal: ctx.signal });
  let deadline: number | undefined;
  try {
    if (input.lifetime_seconds !== undefined) {
      deadline = await sandbox.setTimeout(input.lifetime_seconds, { signal: ctx.signal });
    }
  } catch (err) {
    // A sandbox whose requested lifetime could not be set is not what was asked for.
    await sandbox.terminate().catch(() => {});
    throw err;
  }
  session.adopt(sandbox, { keep: input.keep, makeDefault: true });
  const lifetime = deadline === undefined ? 'no deadline' : `terminated at ${new Date(deadline * 1000).toISOString()}`;
  const ending = input.keep ? 'kept after this session' : 'terminated when this session ends';
  return textOutput(
    `created ${sandbox.id} from "${input.template}" (${lifetime}; ${ending}); it is now the default sandbox`,
    {
      sandbox_id: sandbox.id,
      template: input.template,
      deadline_unix: deadline ?? null,
      keep: input.keep,
      is_default: true,
    },
  );
}

export async function forkTool(
  session: ToolSession,
  input: z.output<typeof ForkInput>,
  ctx: ToolCallContext,
): Promise<ToolOutput> {
  const parent = session.resolve(input.sandbox_id);
  const report = await parent.forkWithReport(input.count, { signal: ctx.signal });
  for (const child of report.children) session.adopt(child, { keep: false });
  const ids = report.children.map((c) => c.id);
  const carried = Object.entries(report.carried)
    .filter(([, v]) => v === true)
    .map(([k]) => k);
  return textOutput(
    `forked ${parent.id} into ${ids.join(', ')} in ${Math.round(report.forkTimeMs)} ms (carried: ${carried.join(', ') || 'nothing'}); pass a child id as sandbox_id to use it`,
    {
      parent_id: parent.id,
      child_ids: ids,
      fork_time_ms: report.forkTimeMs,
      carried: {
        filesystem: report.carried.filesystem,
        interpreter: report.carried.interpreter,
        interpreter_skipped: report.carried.interpreterSkipped,
        processes: report.carried.processes,
      },
    },
  );
}

export async function terminateTool(
  session: ToolSession,
  input: z.output<typeof TerminateInput>,
  ctx: ToolCallContext,
): Promise<ToolOutput> {
  const sandbox = session.resolve(input.sandbox_id);
  await sandbox.terminate({ signal: ctx.signal });
  session.release(sandbox.id);
  const next = session.defaultId;
  return textOutput(`terminated ${sandbox.id}${next ? `; the default sandbox is now ${next}` : ''}`, {
    sandbox_id: sandbox.id,
    default_sandbox_id: next ?? null,
  });
}

export async function listSandboxesTool(session: ToolSession): Promise<ToolOutput> {
  const rows = session.list();
  const text = rows.length
    ? rows
        .map(
          (r) =>
            `${r.sandbox.id} (${r.sandbox.templateId || 'forked'})${r.isDefault ? ' default' : ''}${r.keep ? ' kept' : ''}`,
        )
        .join('\n')
    : 'this session has no sandboxes; call create_sandbox';
  return textOutput(text, {
    sandboxes: rows.map((r) => ({
      sandbox_id: r.sandbox.id,
      template: r.sandbox.templateId,
      is_default: r.isDefault,
      keep: r.keep,
    })),
  });
}

export async function listTemplatesTool(
  session: ToolSession,
  _input: unknown,
  ctx: ToolCallContext,
): Promise<ToolOutput> {
  const templates = await session.requireServer('list_templates').listTemplates({ signal: ctx.signal });
  const text = templates.map((t) => `${t.id}${t.ready ? '' : ' (not built yet)'}`).join('\n');
  return textOutput(text || 'no templates on this server', {
    templates: templates.map((t) => ({ id: t.id, ready: t.ready })),
  });
}
