import { z } from 'zod';
import { ERRORS } from '../../errors.ts';
import {
  ClaimReplySchema,
  SubmitGraphReplySchema,
  SubmitResultReplySchema,
  TaskGraphSchema,
} from '../../protocol/index.ts';

export interface RouteDoc {
  method: 'GET' | 'POST';
  url: string;
  op: string;
  status: number;
  summary: string;
  input: z.ZodType;
  reply?: z.ZodType | undefined;
  /** The media type of the success reply (for a stream: of each message's data). Default application/json. */
  produces?: 'application/json' | 'text/event-stream';
  /** Request headers the route reads, besides authorization. Default: none. */
  headers?: ReadonlyArray<{ name: string; description: string }>;
}

const REPLIES: Record<string, z.ZodType> = {
  PlanTask: SubmitGraphReplySchema,
  ClaimTask: ClaimReplySchema,
  SubmitResult: SubmitResultReplySchema,
  GetGraph: TaskGraphSchema,
};

/** An OpenAPI 3 document generated from the same zod schemas that validate requests. */
export function openApiDocument(routes: readonly RouteDoc[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const params = [...route.url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1] ?? '');
    const inputSchema = toJson(route.input, 'input');
    const properties = (inputSchema.properties ?? {}) as Record<string, unknown>;
    const parameters: unknown[] = params.map((name) => ({
      name,
      in: 'path',
      required: true,
      schema: { type: 'string' },
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
    let requestBody: unknown;
    if (route.method === 'GET') {
      for (const [name, schema] of Object.entries(properties)) {
        if (!params.includes(name)) parameters.push({ name, in: 'query', required: false, schema });
      }
    } else {
      const bodyProps = Object.fromEntries(
        Object.entries(properties).filter(([name]) => !params.includes(name)),
      );
      requestBody = {
        required: true,
        content: { 'application/json': { schema: { ...inputSchema, properties: bodyProps } } },
      };
    }
    const reply = route.reply ?? REPLIES[route.op];
    const responses: Record<string, unknown> = {
      [String(route.status)]: {
        description: 'OK',
        ...(reply
          ? { content: { [route.produces ?? 'application/json']: { schema: toJson(reply, 'output') } } }
          : {}),
      },
      default: {
        description: 'An error (application/problem+json with a stable code)',
        content: { 'application/problem+json': { schema: PROBLEM } },
      },
    };
    if (route.op === 'ClaimTask') responses['204'] = { description: 'No READY task within waitMs' };
    paths[path] = {
      ...(paths[path] ?? {}),
      [route.method.toLowerCase()]: {
        operationId: route.op,
        summary: route.summary,
        security: [{ bearer: [] }],
        parameters,
        ...(requestBody === undefined ? {} : { requestBody }),
        responses,
      },
    };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'AgentManager API',
      version: '1',
      description:
        'Plan → parallel work → audit → rework → synthesis. NATS: am.cmd.v1.<operationId>, same bodies.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}

const PROBLEM = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: Object.keys(ERRORS) },
    instance: { type: 'string' },
    field: { type: 'string' },
  },
};

function toJson(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'openapi-3.0' }) as Record<
    string,
    unknown
  >;
  delete json.$schema;
  return json;
}
