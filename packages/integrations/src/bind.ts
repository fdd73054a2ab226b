/**
 * What every tool adapter starts from: the per-sandbox tools of the catalogue, bound to one
 * session. The sandbox given is the default and stays the caller's (never terminated by us);
 * children made by the `fork` tool join the session, are reachable by `sandbox_id`, and are
 * terminated by `session.close()`.
 * @module
 */
import { SANDBOX_TOOL_NAMES, ToolSession as Session, type ToolSession, type ToolSpec, toolsNamed } from '@mitos/mcp';
import type { Sandbox } from '@mitos/sdk';

export interface BindOptions {
  /** Share one session between several tool sets (or reuse one you close yourself). */
  session?: ToolSession;
  /** A subset of the tools: exec, run_code, read_file, write_file, list_files, fork (default all). */
  only?: readonly string[];
}

export interface BoundTools {
  session: ToolSession;
  specs: ToolSpec[];
}

export function bindTools(sandbox: Sandbox, opts: BindOptions = {}): BoundTools {
  const session = opts.session ?? new Session({ sandboxes: [sandbox] });
  if (opts.session) session.adopt(sandbox, { keep: true });
  const names = opts.only ?? SANDBOX_TOOL_NAMES;
  for (const n of names) {
    if (!(SANDBOX_TOOL_NAMES as readonly string[]).includes(n)) {
      throw new TypeError(`unknown mitos tool "${n}"; choose from ${SANDBOX_TOOL_NAMES.join(', ')}`);
    }
  }
  return { session, specs: toolsNamed(names) };
}
