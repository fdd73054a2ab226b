/**
 * Typed checks for SDK methods that may not exist in the build being measured (run_code and
 * fork land in the SDK separately). The sections call through these, so the same harness runs
 * on an older build and reports "not available in this build" instead of failing to compile.
 * @module
 */
import type { ExecResult } from '@mitos/sdk';

export const NOT_AVAILABLE = 'not available in this build';

/** The part of a sandbox handle the harness needs from a fork child. */
export interface ChildSandbox {
  readonly id: string;
  exec(command: string): Promise<ExecResult>;
  terminate(): Promise<void>;
}

export interface RunCodeCapable {
  runCode(code: string): Promise<unknown>;
}

export interface ForkCapable {
  fork(count: number): Promise<unknown>;
}

export function canRunCode(sandbox: object): sandbox is RunCodeCapable {
  return typeof (sandbox as Partial<RunCodeCapable>).runCode === 'function';
}

export function canFork(sandbox: object): sandbox is ForkCapable {
  return typeof (sandbox as Partial<ForkCapable>).fork === 'function';
}

/** Fork `count` children; accepts either a list of handles or `{ children: [...] }`. */
export async function forkChildren(sandbox: ForkCapable, count: number): Promise<ChildSandbox[]> {
  const result = await sandbox.fork(count);
  const list: unknown = Array.isArray(result) ? result : isRecord(result) ? result.children : undefined;
  if (!Array.isArray(list) || !list.every(isChildSandbox)) {
    throw new Error('fork() returned neither a list of sandboxes nor { children: [...] }');
  }
  if (list.length !== count) throw new Error(`fork(${count}) returned ${list.length} children`);
  return list;
}

/**
 * Fail unless a run_code result carries `expected` as its main text. Results without a `text`
 * field pass: the harness must not depend on more of the result's shape than it needs.
 */
export function expectCellText(result: unknown, expected: string): void {
  const text = isRecord(result) ? result.text : undefined;
  if (text !== undefined && text !== expected) {
    const error = isRecord(result) ? JSON.stringify(result.error ?? null) : '';
    throw new Error(`run_code returned ${JSON.stringify(text)}, expected ${JSON.stringify(expected)} ${error}`);
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

function isChildSandbox(x: unknown): x is ChildSandbox {
  return isRecord(x) && typeof x.id === 'string' && typeof x.exec === 'function' && typeof x.terminate === 'function';
}
