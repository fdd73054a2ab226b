/**
 * README snippets for the tests that run them as written (e2e's and e2b-compat's): the fenced
 * blocks of a markdown file with the headings they sit under, and a child process whose output
 * is collected. One extraction, so both suites agree on what a snippet is.
 * @module
 */
import { spawn } from 'node:child_process';

export interface ReadmeSnippet {
  /** The fence's language tag (`ts`, `bash`, ...; empty when none). */
  lang: string;
  /** The block's text, its fence's indentation removed. */
  code: string;
  /** The nearest heading above it, of any level. */
  section: string;
  /** The nearest level-2 heading (`## ...`) above it. */
  chapter: string;
}

/** Every fenced block of `markdown`, in order. */
export function readmeSnippets(markdown: string): ReadmeSnippet[] {
  const headings = [...markdown.matchAll(/^(#+) (.*)$/gm)].map((m) => ({
    at: m.index ?? 0,
    level: m[1]?.length ?? 0,
    title: m[2] ?? '',
  }));
  const out: ReadmeSnippet[] = [];
  for (const m of markdown.matchAll(/^( *)```(\w*)\n([\s\S]*?)^\1```$/gm)) {
    const above = headings.filter((h) => h.at < (m.index ?? 0));
    out.push({
      lang: m[2] ?? '',
      code: (m[3] ?? '').replace(new RegExp(`^${m[1]}`, 'gm'), ''),
      section: above.at(-1)?.title ?? '',
      chapter: above.filter((h) => h.level === 2).at(-1)?.title ?? '',
    });
  }
  return out;
}

export interface ProcessOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` with exactly `env` (callers add process.env themselves when they want it). */
export function runCollecting(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string | undefined> },
): Promise<ProcessOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
