import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, type ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { AppContext } from '../../node/app-context.ts';
import type { Principal } from '../../node/principal.ts';
import { GraphIdSchema } from '../../protocol/index.ts';
import { invoke, OPERATIONS } from '../operations.ts';
import { parseInput } from '../parse-input.ts';
import { type AmErrorData, amErrorData } from './tool-result.ts';

/** MCP's "resource not found" (the spec's -32002; the SDK has no name for it). */
const RESOURCE_NOT_FOUND = -32002;
/** How many graphs `resources/list` names: the newest ones. */
const LISTED_GRAPHS = 50;
const JSON_MIME = 'application/json';
const GraphVariables = z.strictObject({ graphId: GraphIdSchema });

/**
 * `am://graphs/{graphId}` (the whole TaskGraph, as get_graph) and `am://graphs/{graphId}/events` (its
 * trail, as get_events), read through the same operations with the caller's role.
 */
export function registerGraphResources(server: McpServer, ctx: AppContext, principal: Principal): void {
  server.registerResource(
    'graph',
    new ResourceTemplate('am://graphs/{graphId}', {
      list: async () => {
        const page = await guarded(ctx, 'resources/list', () =>
          invoke(OPERATIONS.ListGraphs, ctx, principal, { limit: LISTED_GRAPHS }),
        );
        return {
          resources: page.graphs.map((graph) => ({
            uri: `am://graphs/${graph.id}`,
            name: `graph ${graph.id}`,
            title: graph.goal.length > 80 ? `${graph.goal.slice(0, 79)}…` : graph.goal,
            description: `${graph.status}: ${graph.goal}`,
            mimeType: JSON_MIME,
          })),
        };
      },
    }),
    {
      title: 'Task graph',
      description: 'A whole task graph as JSON: status, goal, output, tasks with their results, audits',
      mimeType: JSON_MIME,
    },
    (uri, variables, extra) =>
      guarded(ctx, uri.href, async () => {
        const { graphId } = parseInput(GraphVariables, variables);
        const graph = await invoke(OPERATIONS.GetGraph, ctx, principal, { id: graphId }, extra.signal);
        return jsonContents(uri, graph);
      }),
  );
  server.registerResource(
    'graph-events',
    new ResourceTemplate('am://graphs/{graphId}/events', { list: undefined }),
    {
      title: 'Graph events',
      description: "A graph's audit trail as JSON: its first 10000 events, in stream order",
      mimeType: JSON_MIME,
    },
    (uri, variables, extra) =>
      guarded(ctx, uri.href, async () => {
        const { graphId } = parseInput(GraphVariables, variables);
        const trail = await invoke(
          OPERATIONS.GetGraphEvents,
          ctx,
          principal,
          { id: graphId, limit: 10_000 },
          extra.signal,
        );
        return jsonContents(uri, trail);
      }),
  );
}

function jsonContents(uri: URL, value: unknown): ReadResourceResult {
  return { contents: [{ uri: uri.href, mimeType: JSON_MIME, text: JSON.stringify(value) }] };
}

/**
 * Resources have no error results: a refusal is a JSON-RPC error whose message starts with the AM code
 * and whose data is the problem's fields.
 */
async function guarded<T>(ctx: AppContext, where: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    const data = amErrorData(error, ctx.log, where);
    const code =
      data.status === 404
        ? RESOURCE_NOT_FOUND
        : data.status < 500
          ? ErrorCode.InvalidParams
          : ErrorCode.InternalError;
    throw new ResourceError(code, `${data.code}: ${data.detail}`, data);
  }
}

/**
 * What the SDK sends as a JSON-RPC error: its `code`, `message` and `data`. Not an McpError, whose message
 * gains an "MCP error N:" prefix that the client's McpError would then repeat.
 */
class ResourceError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data: AmErrorData,
  ) {
    super(message);
    this.name = 'ResourceError';
  }
}
