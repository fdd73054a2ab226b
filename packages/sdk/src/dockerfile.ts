/**
 * The Dockerfile subset mitos builds: FROM (with `AS` stages), RUN, COPY (with `--from`), ADD of
 * local files, ENV, ARG, WORKDIR, USER, CMD and ENTRYPOINT. Each stage becomes a template spec;
 * a later stage names an earlier one by its template id. Anything else is refused with the
 * file, line and instruction named, never skipped.
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { BuildStep, TemplateSpec } from '@mitos/protocol';
import { shellSplit } from './shell-words.js';

export interface DockerfileStage {
  /** `AS` name, or the stage's index as a string. */
  name: string;
  spec: TemplateSpec;
  /** Earlier stages this one reads (FROM or COPY --from), by name. */
  needs: string[];
}

export interface ParsedDockerfile {
  file: string;
  contextDir: string;
  stages: DockerfileStage[];
}

export class DockerfileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly instruction: string,
    why: string,
  ) {
    super(`${file}:${line}: ${instruction}: ${why}`);
    this.name = 'DockerfileError';
  }
}

interface Instruction {
  line: number;
  keyword: string;
  args: string;
}

/** Join continuation lines, drop comments and blank lines. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i] as string;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = line.replace(/\\\s*$/, '');
      i++;
      const next = lines[i] as string;
      if (!/^\s*#/.test(next)) line += next;
    }
    const m = /^\s*(\S+)\s*(.*)$/.exec(line);
    if (m) out.push({ line: start, keyword: (m[1] as string).toUpperCase(), args: (m[2] as string).trim() });
  }
  return out;
}

/** Exec form (a JSON array) or shell form. */
function commandOf(args: string): string[] {
  if (args.startsWith('[')) {
    const parsed = JSON.parse(args) as unknown;
    if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string'))
      throw new Error('not a JSON string array');
    return parsed;
  }
  return ['/bin/sh', '-c', args];
}

function substitute(text: string, args: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b) as string;
    return Object.hasOwn(args, name) ? (args[name] as string) : whole;
  });
}

/** `stageId(name)` turns a stage name into the template id it is built as. */
export function parseDockerfile(
  file: string,
  options: { buildArgs?: Record<string, string>; contextDir?: string; stageId?: (name: string) => string } = {},
): ParsedDockerfile {
  const text = readFileSync(file, 'utf8');
  const stageId = options.stageId ?? ((name: string) => name);
  const stages: DockerfileStage[] = [];
  const globalArgs: Record<string, string> = {};
  let current:
    | { stage: DockerfileStage; args: Record<string, string>; entrypoint?: string[]; cmd?: string[] }
    | undefined;
  const finish = () => {
    if (!current) return;
    const command = [...(current.entrypoint ?? []), ...(current.cmd ?? [])];
    if (command.length > 0) current.stage.spec.command = command;
    stages.push(current.stage);
  };
  for (const ins of instructions(text)) {
    const fail = (why: string) => new DockerfileError(file, ins.line, ins.keyword, why);
    const args = substitute(ins.args, current?.args ?? globalArgs);
    if (ins.keyword === 'ARG') {
      const m = /^(\w+)(?:=(.*))?$/.exec(args);
      if (!m) throw fail('expected ARG name[=default]');
      const name = m[1] as string;
      const value = options.buildArgs?.[name] ?? m[2] ?? globalArgs[name] ?? '';
      (current?.args ?? globalArgs)[name] = value.replace(/^"(.*)"$/, '$1');
      continue;
    }
    if (ins.keyword === 'FROM') {
      finish();
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!m) throw fail('expected FROM image [AS name]');
      const image = m[1] as string;
      const name = m[2] ?? String(stages.length);
      const earlier = stages.find((s) => s.name === image);
      current = {
        stage: {
          name,
          spec: { image: earlier ? stageId(image) : image, buildSteps: [] },
          needs: earlier ? [image] : [],
        },
        args: { ...globalArgs },
      };
      continue;
    }
    if (!current) throw fail('the first instruction must be FROM (or ARG)');
    const steps = current.stage.spec.buildSteps as BuildStep[];
    try {
      switch (ins.keyword) {
        case 'RUN': {
          const argv = commandOf(args);
          steps.push({ type: 'run', run: args.startsWith('[') ? argv.map(quoteWord).join(' ') : args });
          break;
        }
        case 'COPY':
        case 'ADD': {
          const words = shellSplit(args);
          let from: string | undefined;
          while (words[0]?.startsWith('--')) {
            const flag = words.shift() as string;
            if (ins.keyword === 'COPY' && flag.startsWith('--from=')) from = flag.slice(7);
            else throw fail(`the flag ${flag} is not supported`);
          }
          if (words.length < 2) throw fail('expected source(s) and a destination');
          const dest = words.pop() as string;
          for (const source of words) {
            if (/^[a-z]+:\/\//i.test(source)) throw fail('only local sources are supported (no URLs)');
            if (from !== undefined) {
              if (!stages.some((s) => s.name === from)) throw fail(`no earlier stage named ${from}`);
              if (!current.stage.needs.includes(from)) current.stage.needs.push(from);
              steps.push({
                type: 'copy',
                source,
                dest: words.length > 1 && !dest.endsWith('/') ? `${dest}/` : dest,
                from: stageId(from),
              });
            } else {
              steps.push({ type: 'copy', source, dest: words.length > 1 && !dest.endsWith('/') ? `${dest}/` : dest });
            }
          }
          break;
        }
        case 'ENV': {
          const m = /^(\w+)\s+(.*)$/.exec(args);
          const pairs = m && !args.includes('=') ? [[m[1], m[2]]] : shellSplit(args).map((kv) => kv.split(/=(.*)/s, 2));
          for (const [name, value] of pairs) {
            if (!name || value === undefined) throw fail('expected ENV name=value');
            steps.push({ type: 'env', envName: name, envValue: value });
            current.args[name] = value;
          }
          break;
        }
        case 'WORKDIR':
          steps.push({ type: 'workdir', workdir: args });
          break;
        case 'USER':
          steps.push({ type: 'user', user: args });
          break;
        case 'CMD':
          current.cmd = commandOf(args);
          break;
        case 'ENTRYPOINT':
          current.entrypoint = commandOf(args);
          break;
        default:
          throw fail(
            'this instruction is not supported by mitos (supported: FROM RUN COPY ADD ENV ARG WORKDIR USER CMD ENTRYPOINT)',
          );
      }
    } catch (err) {
      if (err instanceof DockerfileError) throw err;
      throw fail((err as Error).message);
    }
  }
  finish();
  if (stages.length === 0) throw new DockerfileError(file, 1, 'FROM', 'the Dockerfile has no FROM');
  return { file, contextDir: resolve(options.contextDir ?? dirname(file)), stages };
}

/** The template id an earlier stage of a Dockerfile built as `id` gets. */
export function stageTemplateId(id: string, stage: string): string {
  return `${id}-stage-${stage.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 64);
}

/** The templates a Dockerfile builds as `id`, in build order: each earlier stage as its stage id, the last as `id`. */
export function dockerfileTemplates(
  file: string,
  id: string,
  options: { buildArgs?: Record<string, string>; contextDir?: string } = {},
): { contextDir: string; builds: Array<{ id: string; spec: TemplateSpec }> } {
  const parsed = parseDockerfile(file, { ...options, stageId: (name) => stageTemplateId(id, name) });
  const builds = parsed.stages.map((stage, i) => ({
    id: i === parsed.stages.length - 1 ? id : stageTemplateId(id, stage.name),
    spec: stage.spec,
  }));
  return { contextDir: parsed.contextDir, builds };
}

function quoteWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}
