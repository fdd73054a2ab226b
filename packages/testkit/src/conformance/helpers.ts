import assert from 'node:assert/strict';
import type { Engine } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';

export interface ConformanceHarness {
  /** A fresh engine on its own state; closed by `dispose`. */
  open(): Promise<Engine>;
  dispose(): Promise<void>;
  /** Template used by the suite (must have python3 with numpy, pandas, matplotlib). */
  template: string;
  /** Template with node, for the JavaScript kernel. */
  nodeTemplate: string;
}

export async function expectCode(p: Promise<unknown>, code: string): Promise<MitosError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof MitosError, `expected MitosError, got ${String(err)}`);
    assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.detail}`);
    return err;
  }
  assert.fail(`expected the call to fail with ${code}`);
}

export async function sh(engine: Engine, id: string, command: string, timeoutMs = 20_000) {
  const r = await engine.exec(id, { command, timeoutMs });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** `sh(id, command)` over an engine opened later: exit code and text of both streams. */
export function shellOf(engine: () => Engine, defaultTimeoutMs: number) {
  return async (id: string, command: string, timeoutMs = defaultTimeoutMs) => {
    const r = await engine().exec(id, { command, timeoutMs });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };
}
