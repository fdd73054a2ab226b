/**
 * E2B's code interpreter server (port 49999) over the engine's run_code kernels:
 * `POST /execute` streams NDJSON lines (stdout, stderr, result, error, number_of_executions)
 * and `/contexts` manages contexts.
 *
 * A context is a kernel of its own (the engine's named kernel contexts), so several contexts of
 * one language keep separate variables; a cell without a context runs in the language's default
 * kernel. Restart replaces the context's kernel (same cwd, fresh state) and delete ends it.
 * `bash` cells run as commands.
 */
import { randomBytes } from 'node:crypto';
import { type CodeResult, type Engine, kernelSpec } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { accountEnv, asAccount, homeOf, USER } from './accounts.js';
import type { E2bContext } from './context.js';
import type { CodeContext, E2bContextStore } from './context-store.js';

const LANGUAGES: Record<string, string> = {
  python: 'python',
  python3: 'python',
  javascript: 'javascript',
  js: 'javascript',
  typescript: 'typescript',
  ts: 'typescript',
  bash: 'bash',
  sh: 'bash',
};
/** Each context is a kernel process in the sandbox; this bounds them. */
const MAX_CONTEXTS = 32;
/** MIME types of a result under the field names the SDK's Result reads. */
const MIME_FIELDS: Record<string, string> = {
  'text/plain': 'text',
  'text/html': 'html',
  'text/markdown': 'markdown',
  'image/svg+xml': 'svg',
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'application/pdf': 'pdf',
  'text/latex': 'latex',
  'application/json': 'json',
  'application/javascript': 'javascript',
};

export class CodeContexts {
  /** Cells run so far, per sandbox, per context id or (no context) per language. */
  readonly #executions = new Map<string, Map<string, number>>();
  /** `sandbox/context` whose kernel this server process started or found running. */
  readonly #seen = new Set<string>();

  constructor(
    private readonly engine: Engine,
    private readonly store: E2bContextStore,
  ) {}

  #counts(sandboxId: string): Map<string, number> {
    let counts = this.#executions.get(sandboxId);
    if (counts === undefined) {
      counts = new Map();
      this.#executions.set(sandboxId, counts);
    }
    return counts;
  }

  list(sandboxId: string): CodeContext[] {
    return this.store.list(sandboxId);
  }

  async create(sandboxId: string, languageIn: unknown, cwdIn: unknown): Promise<CodeContext> {
    const language = languageOf(languageIn);
    if (language === 'bash')
      throw new MitosError('not_implemented', 'bash contexts are not kept; run bash cells without a context');
    if (this.store.count(sandboxId) >= MAX_CONTEXTS) {
      throw new MitosError('rate_limited', `at most ${MAX_CONTEXTS} contexts per sandbox; delete one first`);
    }
    const cwd = typeof cwdIn === 'string' && cwdIn !== '' ? cwdIn : homeOf(USER);
    const context = { id: randomBytes(8).toString('hex'), language, cwd };
    try {
      await this.#enter(sandboxId, context);
    } catch (err) {
      await this.#killKernel(sandboxId, context);
      throw err;
    }
    this.store.put(sandboxId, context);
    this.#seen.add(`${sandboxId}/${context.id}`);
    return context;
  }

  get(sandboxId: string, id: string): CodeContext {
    const c = this.store.get(sandboxId, id);
    if (c === undefined) throw new MitosError('not_found', `context ${JSON.stringify(id)} not found`);
    return c;
  }

  /** A fresh kernel for the context: its variables go, its cwd stays. */
  async restart(sandboxId: string, id: string): Promise<void> {
    const c = this.get(sandboxId, id);
    await this.#killKernel(sandboxId, c);
    this.#counts(sandboxId).delete(c.id);
    await this.#enter(sandboxId, c);
    this.#seen.add(`${sandboxId}/${c.id}`);
  }

  async remove(sandboxId: string, id: string): Promise<void> {
    const c = this.get(sandboxId, id);
    await this.#killKernel(sandboxId, c);
    this.store.delete(sandboxId, id);
    this.#seen.delete(`${sandboxId}/${id}`);
  }

  nextExecutionCount(sandboxId: string, counter: string): number {
    const counts = this.#counts(sandboxId);
    const n = (counts.get(counter) ?? 0) + 1;
    counts.set(counter, n);
    return n;
  }

  forget(sandboxId: string): void {
    this.#executions.delete(sandboxId);
    this.store.forget(sandboxId);
    for (const key of this.#seen) if (key.startsWith(`${sandboxId}/`)) this.#seen.delete(key);
  }

  /**
   * A context kept from before a server restart normally finds its kernel still running (a
   * process in the sandbox). If that kernel is gone, the context gets a fresh one started in
   * its cwd before its next cell (its variables are gone, as after a restart), not a kernel in
   * the default directory. Checked once per context per server process.
   */
  async ensureKernel(sandboxId: string, id: string): Promise<void> {
    const key = `${sandboxId}/${id}`;
    if (this.#seen.has(key)) return;
    const c = this.get(sandboxId, id);
    if ((await this.#kernelPids(sandboxId, c)).length === 0) await this.#enter(sandboxId, c);
    this.#seen.add(key);
  }

  async #kernelPids(sandboxId: string, c: CodeContext): Promise<number[]> {
    const spec = kernelSpec(c.language === 'typescript' ? 'javascript' : c.language, c.id);
    if (spec === undefined) return [];
    const processes = await this.engine.listProcesses(sandboxId);
    return processes.filter((p) => p.command.split(/\s+/).includes(spec.socket)).map((p) => p.pid);
  }

  /** Starts the context's kernel in its cwd. */
  async #enter(sandboxId: string, c: CodeContext): Promise<void> {
    const chdir =
      c.language === 'python'
        ? `import os\nos.chdir(${JSON.stringify(c.cwd)})`
        : `process.chdir(${JSON.stringify(c.cwd)})`;
    const out = await this.engine.runCode(sandboxId, {
      code: chdir,
      language: c.language,
      context: c.id,
      timeoutMs: 30_000,
    });
    if (out.error) throw new MitosError('invalid_request', `cannot use cwd ${c.cwd}: ${out.error.value}`);
  }

  async #killKernel(sandboxId: string, c: CodeContext): Promise<void> {
    const killed = new Set<number>();
    for (const pid of await this.#kernelPids(sandboxId, c)) {
      await this.engine.signalProcess(sandboxId, pid, 9).catch(() => {});
      killed.add(pid);
    }
    // SIGKILL is delivered asynchronously: a cell sent before the old kernel is gone would reach
    // it, watch it die and report KernelDied. Restart answers once the old kernel is gone. Gone
    // means reaped, not merely out of the listing: a killed multithreaded kernel (node) leaves
    // the listing as soon as its main thread is a zombie, while its other threads still hold the
    // socket open and accept the next cell. Signal 0 finds a process until it is reaped.
    const exists = (pid: number) =>
      this.engine.signalProcess(sandboxId, pid, 0).then(
        () => true,
        () => false,
      );
    const deadline = Date.now() + 5_000;
    for (let wait = 2; killed.size > 0 && Date.now() < deadline; wait = Math.min(wait * 2, 50)) {
      const alive = await Promise.all([...killed].map(exists));
      if (!alive.includes(true)) return;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * E2B's code-interpreter sandboxes have their kernel running from the start; ours starts at
 * create, in the background, so the first cell finds it ready or already starting.
 */
export function startDefaultKernel(engine: Engine, sandboxId: string): void {
  void engine.runCode(sandboxId, { code: '', language: 'python', timeoutMs: 60_000 }).catch(() => {});
}

export function languageOf(value: unknown): string {
  if (value === undefined || value === null || value === '') return 'python';
  const language = typeof value === 'string' ? LANGUAGES[value.toLowerCase()] : undefined;
  if (language === undefined) {
    throw new MitosError(
      'not_implemented',
      `language ${JSON.stringify(value)} has no kernel here (python, javascript, typescript, bash)`,
    );
  }
  return language;
}

type Line = Record<string, unknown>;

export interface CellPlan {
  code: string;
  language: string;
  /** The context's id; absent: the language's default kernel. */
  context?: string;
}

/** Checks a cell before its stream starts, so a bad request is an HTTP error, not a cell error. */
export function planCell(
  contexts: CodeContexts,
  sandboxId: string,
  body: { code?: unknown; context_id?: unknown; language?: unknown; env_vars?: unknown },
): CellPlan {
  if (typeof body.code !== 'string') throw new MitosError('invalid_request', 'code must be a string');
  if (body.env_vars !== undefined && body.env_vars !== null && Object.keys(body.env_vars as object).length > 0) {
    throw new MitosError('not_implemented', 'per-cell env_vars are not supported; set envs when creating the sandbox');
  }
  if (typeof body.context_id === 'string' && body.context_id !== '') {
    const c = contexts.get(sandboxId, body.context_id);
    return { code: body.code, language: c.language, context: c.id };
  }
  return { code: body.code, language: languageOf(body.language) };
}

/** One cell; `send` gets each NDJSON line as it happens. */
export async function runCell(
  ctx: E2bContext,
  contexts: CodeContexts,
  sandboxId: string,
  { code, language, context }: CellPlan,
  envVars: Record<string, string>,
  signal: AbortSignal,
  send: (line: Line) => void,
): Promise<void> {
  const { engine } = ctx;
  const now = () => Date.now() * 1000;
  const timeoutMs = (ctx.maxTimeoutSeconds > 0 ? ctx.maxTimeoutSeconds : 86_400) * 1000;
  if (language === 'bash') {
    const r = await engine.exec(sandboxId, {
      ...asAccount(USER, ['/bin/bash', '-l', '-c', code]),
      cwd: homeOf(USER),
      env: { ...accountEnv(USER), ...envVars },
      timeoutMs,
      signal,
      onStdout: (d) => send({ type: 'stdout', text: d.toString('utf8'), timestamp: now() }),
      onStderr: (d) => send({ type: 'stderr', text: d.toString('utf8'), timestamp: now() }),
    });
    if (r.exitCode !== 0)
      send({ type: 'error', name: 'CommandExitError', value: `exit code ${r.exitCode}`, traceback: '' });
    send({ type: 'number_of_executions', execution_count: contexts.nextExecutionCount(sandboxId, language) });
    return;
  }
  if (context !== undefined) await contexts.ensureKernel(sandboxId, context);
  const sent = { stdout: 0, stderr: 0, results: 0 };
  const outcome = await engine.runCode(sandboxId, {
    code,
    language,
    context,
    timeoutMs,
    signal,
    onStdout: (d) => {
      sent.stdout += d.length;
      send({ type: 'stdout', text: d.toString('utf8'), timestamp: now() });
    },
    onStderr: (d) => {
      sent.stderr += d.length;
      send({ type: 'stderr', text: d.toString('utf8'), timestamp: now() });
    },
    onResult: (r) => {
      sent.results += 1;
      send(resultLine(r));
    },
  });
  // An engine may report output only in the outcome: send what the callbacks did not.
  if (outcome.stdout.length > sent.stdout)
    send({ type: 'stdout', text: outcome.stdout.subarray(sent.stdout).toString('utf8'), timestamp: now() });
  if (outcome.stderr.length > sent.stderr)
    send({ type: 'stderr', text: outcome.stderr.subarray(sent.stderr).toString('utf8'), timestamp: now() });
  for (const r of outcome.results.slice(sent.results)) send(resultLine(r));
  if (outcome.error) {
    // Kernels report traceback lines with or without their newline; the SDK wants one string.
    const traceback = outcome.error.traceback.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join('');
    send({ type: 'error', name: outcome.error.name, value: outcome.error.value, traceback });
  }
  send({ type: 'number_of_executions', execution_count: contexts.nextExecutionCount(sandboxId, context ?? language) });
}

function resultLine(r: CodeResult): Line {
  const line: Line = { type: 'result', is_main_result: r.isMainResult };
  for (const [mime, value] of Object.entries(r.data)) line[MIME_FIELDS[mime] ?? mime] = value;
  if (r.text !== undefined && line.text === undefined) line.text = r.text;
  return line;
}
