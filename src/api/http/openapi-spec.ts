import { z } from 'zod';
import { ERRORS } from '../../errors.ts';
import { HealthReplySchema, ReadinessSnapshotSchema, ReadinessVerdictSchema } from '../../protocol/index.ts';
import { OPERATIONS } from '../operations.ts';
import { PROBLEM_TYPE_PREFIX } from './problem-json.ts';
import { SESSION_COOKIE } from './session-cookie.ts';

export interface RouteDoc {
  method: 'GET' | 'POST';
  url: string;
  op: string;
  status: number;
  summary: string;
  /** The operation's input: path parameters, then the query (GET) or the JSON body (POST). */
  input: z.ZodType;
  /** The success reply. Default: the reply of the operation named `op`. */
  reply?: z.ZodType | undefined;
  /** The media type of the success reply (for a stream: of each message's data). Default application/json. */
  produces?: 'application/json' | 'text/event-stream';
  /** Request headers the route reads, besides authorization. Default: none. */
  headers?: ReadonlyArray<{ name: string; description: string }>;
}

type JsonSchema = Record<string, unknown>;

/** The OpenAPI path of a Fastify URL (`/v1/tasks/:taskId/heartbeat` → `/v1/tasks/{taskId}/heartbeat`). */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, '{$1}');
}

/**
 * An OpenAPI 3.1 document generated from the same zod schemas that validate requests and type replies.
 * 3.1, not 3.0: its schemas are JSON Schema 2020-12, which is what zod emits (`nullable` and friends
 * need no translation), and Swagger UI 5 renders it. Path parameters appear only as parameters, never in
 * a body; a route whose input is only its path parameters has no body.
 */
export function openApiDocument(routes: readonly RouteDoc[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = openApiPath(route.url);
    paths[path] = { ...(paths[path] ?? {}), [route.method.toLowerCase()]: operationOf(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'AgentManager API',
      version: '1',
      description:
        'Plan → parallel work → audit → rework → synthesis. Every /v1 operation but the event stream is also ' +
        'a NATS command, am.cmd.v1.<operationId>, with the same body (path parameters join it there). ' +
        'Errors are application/problem+json with a stable `code`; ' +
        `their \`type\` is \`${PROBLEM_TYPE_PREFIX}<code>\`.`,
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An agent token (POST /v1/agents)' },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: 'The dashboard session; a request that changes state also sends the x-am-csrf header',
        },
      },
      schemas: { Problem: PROBLEM },
    },
    paths: { ...paths, ...OPERATIONAL_PATHS },
  };
}

function operationOf(route: RouteDoc): Record<string, unknown> {
  const params = [...route.url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1] ?? '');
  const inputSchema = toJson(route.input, 'input');
  const properties = (inputSchema.properties ?? {}) as Record<string, JsonSchema>;
  const required = (inputSchema.required ?? []) as string[];
  const parameters: unknown[] = params.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: properties[name] ?? { type: 'string' },
  }));
  for (const header of route.headers ?? []) {
    parameters.push({
      name: header.name,
      in: 'header',
      required: false,
      description: header.description,
      schema: { type: 'string' },
    });
  }
  const own = Object.entries(properties).filter(([name]) => !params.includes(name));
  const ownRequired = required.filter((name) => !params.includes(name));
  let requestBody: unknown;
  if (route.method === 'GET') {
    for (const [name, schema] of own) {
      parameters.push({ name, in: 'query', required: ownRequired.includes(name), schema });
    }
  } else if (own.length > 0) {
    const { required: _allRequired, ...rest } = inputSchema;
    const schema = {
      ...rest,
      properties: Object.fromEntries(own),
      ...(ownRequired.length > 0 ? { required: ownRequired } : {}),
    };
    requestBody = { required: ownRequired.length > 0, content: { 'application/json': { schema } } };
  }
  const reply = route.reply ?? OPERATIONS[route.op as keyof typeof OPERATIONS]?.reply;
  const isStream = route.produces === 'text/event-stream';
  const responses: Record<string, unknown> = {
    [String(route.status)]: {
      description: isStream ? 'The stream; each message’s data is one trail event' : 'OK',
      ...(isStream ? {} : { headers: PROJECTION_SEQ_HEADER }),
      ...(reply
        ? { content: { [route.produces ?? 'application/json']: { schema: toJson(reply, 'output') } } }
        : {}),
    },
    default: ERROR_RESPONSE,
  };
  if (route.op === 'ClaimTask') {
    responses['204'] = { description: 'No READY task within waitMs', headers: PROJECTION_SEQ_HEADER };
  }
  return {
    operationId: route.op,
    summary: route.summary,
    security: AUTHENTICATED,
    parameters,
    ...(requestBody === undefined ? {} : { requestBody }),
    responses,
  };
}

const AUTHENTICATED = [{ bearer: [] }, { session: [] }];

const PROJECTION_SEQ_HEADER = {
  'AM-Projection-Seq': {
    description: 'The stream sequence this server’s read model had applied when it answered',
    schema: { type: 'integer' },
  },
};

const PROBLEM = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', description: `\`${PROBLEM_TYPE_PREFIX}<code>\`` },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: Object.keys(ERRORS) },
    instance: { type: 'string' },
    field: { type: 'string' },
  },
};

const ERROR_RESPONSE = {
  description: 'An error (application/problem+json with a stable code)',
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
};

const RETRY_AFTER_HEADER = {
  'Retry-After': { description: 'Seconds to wait before asking again', schema: { type: 'integer' } },
};

/** Readiness: the bare verdict for a caller without credentials (probes), the details for one with them. */
const READINESS = {
  oneOf: [toJson(ReadinessSnapshotSchema, 'output'), toJson(ReadinessVerdictSchema, 'output')],
};

/** The routes that are not operations: probes and metrics. */
const OPERATIONAL_PATHS: Record<string, Record<string, unknown>> = {
  '/healthz': {
    get: {
      operationId: 'Healthz',
      summary: 'Liveness: the process is up (no auth)',
      security: [],
      responses: {
        '200': {
          description: 'Up',
          content: { 'application/json': { schema: toJson(HealthReplySchema, 'output') } },
        },
      },
    },
  },
  '/readyz': {
    get: {
      operationId: 'Readyz',
      summary:
        'Readiness: without credentials only { ready }; with a token or a dashboard session the verdict with its figures',
      security: [{}, ...AUTHENTICATED],
      responses: {
        '200': { description: 'Ready', content: { 'application/json': { schema: READINESS } } },
        '503': {
          description: 'Not ready (catching up, cut off from NATS, stalled or lagging)',
          headers: RETRY_AFTER_HEADER,
          content: { 'application/json': { schema: READINESS } },
        },
        default: ERROR_RESPONSE,
      },
    },
  },
  '/metrics': {
    get: {
      operationId: 'Metrics',
      summary: 'Prometheus metrics (text exposition format 0.0.4), all prefixed am_',
      security: AUTHENTICATED,
      responses: {
        '200': {
          description: 'The metrics (Content-Type: text/plain; version=0.0.4; charset=utf-8)',
          content: { 'text/plain': { schema: { type: 'string' } } },
        },
        default: ERROR_RESPONSE,
      },
    },
  },
};

function toJson(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  delete json.$schema;
  return json;
}
