/**
 * An E2B template definition (the body of `POST /v2/templates/{id}/builds/{build}`: a base, steps
 * of type RUN/COPY/ENV/WORKDIR/USER, a start and a ready command) as our template spec and build
 * context, so the engine's template builder builds it.
 *
 * E2B's conventions are kept: steps run as `user` in /home/user unless a step says otherwise, a
 * RUN or COPY naming a user runs as it for that step only, and a COPY reads the files the client
 * uploaded under the step's files hash. What we cannot do the same way is refused, not ignored.
 */
import { type BuildContext, type BuildStep, ID_PATTERN, MitosError, type TemplateSpec } from '@mitos/protocol';
import { z } from 'zod';
import { ACCOUNT_SETUP } from './accounts.js';
import { DEFAULT_USER } from './context.js';
import { DEFAULT_TAG, splitTemplateName } from './tags.js';

export const E2bTemplateStepSchema = z
  .object({
    type: z.string(),
    args: z.array(z.string()).default([]),
    filesHash: z.string().optional(),
    force: z.boolean().optional(),
  })
  .passthrough();

export const E2bBuildStartSchema = z
  .object({
    fromImage: z.string().optional(),
    fromTemplate: z.string().optional(),
    fromImageRegistry: z.unknown().optional(),
    startCmd: z.string().optional(),
    readyCmd: z.string().optional(),
    steps: z.array(E2bTemplateStepSchema).max(500).default([]),
    force: z.boolean().optional(),
  })
  .passthrough();
export type E2bBuildStart = z.infer<typeof E2bBuildStartSchema>;

/** The files one upload holds: context-relative path -> blob digest and mode. */
export type UploadedFiles = Record<string, { sha256: string; mode: number }>;

export interface MappedBuild {
  spec: TemplateSpec;
  context: BuildContext;
  /** Some step asked to run regardless of the cache. */
  force: boolean;
  /** The last USER step's account (default `user`): its sandboxes' commands and files run as it. */
  user: string;
}

const GLOB = /[*?[\]{}]/;

function refuse(message: string, remediation: string): never {
  throw new MitosError('not_implemented', message, {}, { remediation });
}

function stepArg(args: string[], i: number, what: string, n: number): string {
  const v = args[i];
  if (v === undefined || v === '') throw new MitosError('invalid_request', `step ${n}: ${what} is required`);
  return v;
}

/**
 * `baseImage`: our template (or OCI reference) the build starts from, already resolved from
 * fromTemplate/fromImage. `uploads(hash)`: the files uploaded under a COPY's files hash.
 */
export function mapE2bBuild(
  body: E2bBuildStart,
  baseImage: string,
  uploads: (filesHash: string) => UploadedFiles | undefined,
): MappedBuild {
  if (body.fromImageRegistry !== undefined && body.fromImageRegistry !== null) {
    refuse(
      'base images from a private registry (fromImageRegistry) are not supported',
      'use a public image, or a template built on this server (fromTemplate)',
    );
  }
  const steps: BuildStep[] = [
    // E2B's base templates have the `user` account; ours ship root only.
    { type: 'run', run: ACCOUNT_SETUP },
    { type: 'user', user: DEFAULT_USER.name },
    { type: 'workdir', workdir: DEFAULT_USER.home },
  ];
  const files: BuildContext['files'] = {};
  let user: string = DEFAULT_USER.name;
  let force = body.force === true;
  /** Runs `inner` as `as` for that step only, as E2B's per-step user does. */
  const asUser = (as: string, inner: BuildStep[]) => {
    if (as === '' || as === user) steps.push(...inner);
    else steps.push({ type: 'user', user: as }, ...inner, { type: 'user', user });
  };
  body.steps.forEach((step, index) => {
    const n = index + 1;
    const args = step.args;
    if (step.force) force = true;
    switch (step.type) {
      case 'RUN':
        asUser(args[1] ?? '', [{ type: 'run', run: stepArg(args, 0, 'the command', n) }]);
        return;
      case 'WORKDIR':
        steps.push({ type: 'workdir', workdir: stepArg(args, 0, 'the directory', n) });
        return;
      case 'USER':
        user = stepArg(args, 0, 'the user', n);
        steps.push({ type: 'user', user });
        return;
      case 'ENV':
        if (args.length === 0 || args.length % 2 !== 0) {
          throw new MitosError('invalid_request', `step ${n}: ENV takes name/value pairs`);
        }
        for (let i = 0; i < args.length; i += 2) {
          steps.push({ type: 'env', envName: stepArg(args, i, 'the name', n), envValue: args[i + 1] ?? '' });
        }
        return;
      case 'COPY': {
        const src = stepArg(args, 0, 'the source', n);
        const dest = stepArg(args, 1, 'the destination', n);
        if (GLOB.test(src)) {
          refuse(`step ${n}: copy sources with wildcards (${src}) are not supported`, 'copy a file or a directory');
        }
        const hash = step.filesHash;
        const uploaded = hash === undefined ? undefined : uploads(hash);
        if (hash === undefined || uploaded === undefined) {
          throw new MitosError(
            'invalid_request',
            `step ${n}: the files of ${JSON.stringify(src)} were not uploaded`,
            {},
            { remediation: 'upload them through the link GET /templates/{templateID}/files/{hash} returns' },
          );
        }
        const mode = args[3] ? Number.parseInt(args[3], 8) : undefined;
        if (mode !== undefined && !(mode >= 0 && mode <= 0o7777)) {
          throw new MitosError(
            'invalid_request',
            `step ${n}: mode ${JSON.stringify(args[3])} is not octal permissions`,
          );
        }
        // Each copy reads its own upload under a prefix, so two uploads never mix.
        const prefix = `step-${n}`;
        for (const [path, file] of Object.entries(uploaded)) {
          files[`${prefix}/${path}`] = { sha256: file.sha256, mode: mode ?? file.mode };
        }
        asUser(args[2] ?? '', [{ type: 'copy', source: `${prefix}/${src.replace(/^\.\/+/, '')}`, dest }]);
        return;
      }
      default:
        refuse(
          `step ${n}: E2B step type ${JSON.stringify(step.type)} is not supported`,
          'use RUN, COPY, ENV, WORKDIR or USER steps',
        );
    }
  });
  // Our sandboxes start as root and the E2B surface switches to the account per call, as envd does.
  if (user !== 'root') steps.push({ type: 'user', user: 'root' });
  const spec: TemplateSpec = { image: baseImage, buildSteps: steps };
  if (body.startCmd) spec.command = ['/bin/sh', '-c', body.startCmd];
  if (body.readyCmd) {
    if (!body.startCmd) throw new MitosError('invalid_request', 'readyCmd needs a startCmd');
    spec.ready = { command: body.readyCmd };
  }
  return { spec, context: { files }, force, user };
}

/** The template id for an E2B template name (`name` or `name:tag`); tags other than the default are refused. */
/** The template id of a name that may carry only the default tag (`name`, `name:default`, `name:latest`). */
export function templateIdOf(name: string): string {
  const { name: id, tag } = splitTemplateName(name);
  if (tag !== DEFAULT_TAG) {
    throw new MitosError(
      'invalid_request',
      `${JSON.stringify(name)} names tag ${JSON.stringify(tag)}; give a name without a tag here`,
    );
  }
  if (!ID_PATTERN.test(id)) {
    throw new MitosError('invalid_request', `template name ${JSON.stringify(id)} must match ${ID_PATTERN.source}`);
  }
  return id;
}
