/**
 * The HTTP API as an OpenAPI 3.1 document, rendered from the same zod schemas the server
 * validates with (wire.ts, requests.ts, errors.ts). The server serves it at
 * /v1/openapi.json; `node scripts/gen-contract.mjs` writes it to docs/openapi.json and a test
 * checks that every route the server registers is here and nothing else is.
 */
import { z } from 'zod';
import { ErrorEnvelopeSchema } from './errors.js';
import { NetworkPostureSchema, NetworkRequestSchema } from './network.js';
import {
  ForwardRequestSchema,
  LiveForkRequestSchema,
  PreviewRequestSchema,
  ProcessStreamRequestSchema,
  RunCodeRequestSchema,
  SandboxRequestSchema,
  SetTimeoutRequestSchema,
  SignalProcessRequestSchema,
  StartProcessRequestSchema,
} from './requests.js';
import {
  ContextMissingRequestSchema,
  ContextMissingResponseSchema,
  PruneResponseSchema,
  PushTemplateRequestSchema,
  PushTemplateResponseSchema,
} from './template-spec.js';
import {
  CreateTemplateRequestSchema,
  ExecRequestSchema,
  ExecResponseSchema,
  FileListResponseSchema,
  FilePathRequestSchema,
  FileReadRequestSchema,
  FileReadResponseSchema,
  FileWriteRequestSchema,
  ForkRequestSchema,
  HealthResponseSchema,
  LiveForkResponseSchema,
  SandboxRecordSchema,
  StatusResponseSchema,
  TemplateRecordSchema,
} from './wire.js';
import { WORKSPACE_ROUTES } from './workspaces.js';

/** Where the rendered document is committed, relative to the repository root. */
export const OPENAPI_DOC_PATH = 'docs/openapi.json';

export type ResponseKind = 'json' | 'ndjson' | 'sse' | 'websocket';

export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Hono-style path (`:id`); rendered as `{id}`. */
  path: string;
  summary: string;
  request?: z.ZodType;
  /** JSON success body; absent where the body is described in words only. */
  response?: z.ZodType;
  kind?: ResponseKind;
}

const Status = StatusResponseSchema;
const Timeout = StatusResponseSchema.extend({ deadline_unix: z.number().int(), timeout_seconds: z.number().int() });

/** Every /v1 route the server answers (the server's test keeps this list and the app in step). */
export const API_ROUTES: readonly ApiRoute[] = [
  { method: 'GET', path: '/v1/health', summary: 'Liveness and counts', response: HealthResponseSchema },
  { method: 'GET', path: '/v1/openapi.json', summary: 'This document' },
  { method: 'GET', path: '/v1/templates', summary: 'List templates', response: z.array(TemplateRecordSchema) },
  {
    method: 'POST',
    path: '/v1/templates',
    summary: 'Create or get a template',
    request: CreateTemplateRequestSchema,
    response: TemplateRecordSchema,
  },
  {
    method: 'GET',
    path: '/v1/templates/:id/build',
    summary: 'Build progress of a template, as NDJSON events (TemplateBuildEvent)',
    kind: 'ndjson',
  },
  { method: 'DELETE', path: '/v1/templates/:id', summary: 'Delete a template', response: Status },
  {
    method: 'POST',
    path: '/v1/templates/:id/push',
    summary: 'Push a template to an OCI registry as an image',
    request: PushTemplateRequestSchema,
    response: PushTemplateResponseSchema,
  },
  {
    method: 'POST',
    path: '/v1/templates/prune',
    summary: 'Remove cached build steps and images no template references',
    response: PruneResponseSchema,
  },
  {
    method: 'POST',
    path: '/v1/template-context/missing',
    summary: 'Which build-context blobs the server lacks',
    request: ContextMissingRequestSchema,
    response: ContextMissingResponseSchema,
  },
  {
    method: 'POST',
    path: '/v1/template-context/:sha256',
    summary:
      'Upload one build-context blob (raw bytes; the name is their SHA-256). Over 32 MiB: in parts, query offset (bytes held) and total; a misplaced part is 409 with context.received',
    response: Status,
  },
  {
    method: 'POST',
    path: '/v1/fork',
    summary: 'Create a sandbox from a template',
    request: ForkRequestSchema,
    response: SandboxRecordSchema,
  },
  { method: 'GET', path: '/v1/sandboxes', summary: 'List sandboxes', response: z.array(SandboxRecordSchema) },
  { method: 'GET', path: '/v1/sandboxes/:id', summary: 'One sandbox, with its deadline' },
  {
    method: 'GET',
    path: '/v1/sandboxes/:id/network',
    summary: "The sandbox's effective network posture",
    response: NetworkPostureSchema,
  },
  {
    method: 'PUT',
    path: '/v1/sandboxes/:id/network',
    summary: "Change the sandbox's network posture live",
    request: NetworkRequestSchema,
    response: NetworkPostureSchema,
  },
  { method: 'DELETE', path: '/v1/sandboxes/:id', summary: 'Terminate a sandbox', response: Status },
  {
    method: 'POST',
    path: '/v1/sandboxes/:id/fork',
    summary: 'Live fork into children',
    request: LiveForkRequestSchema,
    // The clients' one-child body is answered with the child's record merged into the report.
    response: z.union([LiveForkResponseSchema, SandboxRecordSchema.extend(LiveForkResponseSchema.shape)]),
  },
  {
    method: 'POST',
    path: '/v1/sandboxes/:id/forward',
    summary: 'Forward a host port to a guest port',
    request: ForwardRequestSchema,
  },
  { method: 'GET', path: '/v1/sandboxes/:id/forward', summary: "List a sandbox's forwards" },
  { method: 'DELETE', path: '/v1/sandboxes/:id/forward/:port', summary: 'Close a forward by its host port' },
  {
    method: 'POST',
    path: '/v1/exec',
    summary: 'Run a command',
    request: ExecRequestSchema,
    response: ExecResponseSchema,
  },
  {
    method: 'POST',
    path: '/v1/exec/stream',
    summary: 'Run a command, output as NDJSON frames',
    request: ExecRequestSchema,
    kind: 'ndjson',
  },
  {
    method: 'POST',
    path: '/v1/run_code/stream',
    summary: 'Run a code cell, results as NDJSON frames',
    request: RunCodeRequestSchema,
    kind: 'ndjson',
  },
  {
    method: 'POST',
    path: '/v1/files/read',
    summary: 'Read a file',
    request: FileReadRequestSchema,
    response: FileReadResponseSchema,
  },
  {
    method: 'POST',
    path: '/v1/files/write',
    summary: 'Write a file',
    request: FileWriteRequestSchema,
    response: Status,
  },
  {
    method: 'POST',
    path: '/v1/files/list',
    summary: 'List a directory',
    request: FilePathRequestSchema,
    response: FileListResponseSchema,
  },
  {
    method: 'POST',
    path: '/v1/files/remove',
    summary: 'Remove a path',
    request: FilePathRequestSchema,
    response: Status,
  },
  {
    method: 'POST',
    path: '/v1/files/mkdir',
    summary: 'Make a directory',
    request: FilePathRequestSchema,
    response: Status,
  },
  {
    method: 'POST',
    path: '/v1/set_timeout',
    summary: 'Set the sandbox deadline',
    request: SetTimeoutRequestSchema,
    response: Timeout,
  },
  { method: 'POST', path: '/v1/pause', summary: 'Pause a sandbox', request: SandboxRequestSchema, response: Status },
  { method: 'POST', path: '/v1/resume', summary: 'Resume a sandbox', request: SandboxRequestSchema, response: Status },
  { method: 'POST', path: '/v1/preview', summary: 'A preview URL for a port', request: PreviewRequestSchema },
  { method: 'POST', path: '/v1/processes', summary: 'Start a background process', request: StartProcessRequestSchema },
  { method: 'GET', path: '/v1/processes', summary: 'List processes (query: sandbox)' },
  {
    method: 'POST',
    path: '/v1/processes/signal',
    summary: 'Signal a process',
    request: SignalProcessRequestSchema,
    response: Status,
  },
  {
    method: 'POST',
    path: '/v1/processes/stream',
    summary: "A process's output as NDJSON frames",
    request: ProcessStreamRequestSchema,
    kind: 'ndjson',
  },
  { method: 'GET', path: '/v1/pty', summary: 'A terminal (WebSocket, subprotocol mitos.pty.v1)', kind: 'websocket' },
  { method: 'GET', path: '/v1/metering', summary: 'Usage per sandbox and totals' },
  { method: 'GET', path: '/v1/events', summary: 'Changes to the sandbox list, as server-sent events', kind: 'sse' },
  ...WORKSPACE_ROUTES,
];

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): unknown {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any' });
}

function operation(route: ApiRoute): Record<string, unknown> {
  const ok: Record<string, unknown> =
    route.kind === 'websocket'
      ? { '101': { description: 'Switching to the WebSocket protocol' } }
      : route.kind === 'sse'
        ? { '200': { description: 'Server-sent events until the client leaves', content: { 'text/event-stream': {} } } }
        : route.kind === 'ndjson'
          ? {
              '200': {
                description: 'NDJSON frames; the last one ends the stream',
                content: { 'application/x-ndjson': {} },
              },
            }
          : {
              '200': {
                description: 'Success',
                content: { 'application/json': route.response ? { schema: jsonSchema(route.response, 'output') } : {} },
              },
            };
  const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  return {
    summary: route.summary,
    ...(params.length > 0 && { parameters: params }),
    ...(route.request && {
      requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.request, 'input') } } },
    }),
    responses: {
      ...ok,
      default: {
        description: 'An error (docs/errors.md lists every code)',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } },
      },
    },
  };
}

export function openApiDocument(version = '0.1.0'): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of API_ROUTES) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'mitos API',
      version,
      description: 'Isolated, forkable computers for AI agents: the seed wire protocol v1 and the mitos extensions.',
    },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { ErrorEnvelope: jsonSchema(ErrorEnvelopeSchema, 'output') },
    },
    paths,
  };
}

/** The committed docs/openapi.json: the document, pretty-printed, with a final newline. */
export function renderOpenApiDocument(): string {
  return `${JSON.stringify(openApiDocument(), null, 2)}\n`;
}
