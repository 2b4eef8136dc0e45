import { readFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { AppError } from '../../errors.ts';
import type { AppContext } from '../../node/app-context.ts';
import type { Principal } from '../../node/principal.ts';
import { parseInput } from '../parse-input.ts';
import { advertisedInput } from './advertised-schema.ts';
import { registerGraphResources } from './resources.ts';
import { toolError, toolSuccess } from './tool-result.ts';
import { MCP_TOOLS, type McpTool } from './tools.ts';

/** Builds the MCP server that answers one HTTP request, for the principal that sent it. */
export type McpServerFactory = (principal: Principal) => McpServer;

const INSTRUCTIONS =
  'AgentManager runs goals as graphs of tasks done by LLM workers: plan → parallel work → audit → ' +
  'rework → synthesis. Admins submit goals (submit_goal) and follow them (get_graph, get_events, ' +
  'list_graphs, cancel_graph). Workers take part in the work: claim_task, then heartbeat every leaseMs/3, ' +
  'report_progress per step, and submit_result with the whole history (or release_task). A refused call ' +
  'is an error result whose text starts with its AM_ERR_… code.';

/**
 * The tools' advertised schemas are made once (per app, not per request); each request gets its own
 * McpServer bound to its caller, as the SDK's stateless pattern has it, so any server behind a load
 * balancer can answer any request.
 */
export function mcpServerFactory(ctx: AppContext): McpServerFactory {
  const info = { name: 'agentmanager', version: packageVersion() };
  const tools = MCP_TOOLS.map((tool) => ({ tool, inputSchema: advertisedInput(tool.input) }));
  return (principal) => {
    const server = new McpServer(info, {
      instructions: INSTRUCTIONS,
      capabilities: { tools: {}, resources: {} },
    });
    for (const { tool, inputSchema } of tools) {
      server.registerTool(
        tool.name,
        {
          title: tool.title,
          description: tool.description,
          inputSchema,
          outputSchema: tool.output,
          annotations: tool.annotations,
        },
        (args, extra) => callTool(ctx, principal, tool, args, extra.signal),
      );
    }
    registerGraphResources(server, ctx, principal);
    return server;
  };
}

/** Parses (AM_ERR_VALIDATION naming the field), invokes the operation, and shapes the reply or the error. */
async function callTool(
  ctx: AppContext,
  principal: Principal,
  tool: McpTool,
  args: unknown,
  signal: AbortSignal,
): Promise<CallToolResult> {
  try {
    const input = parseInput(tool.input, args);
    return toolSuccess(outputOf(tool.output, await tool.run(ctx, principal, input, signal)));
  } catch (error) {
    return toolError(error, ctx.log, tool.name);
  }
}

/**
 * Exactly the output schema's fields: clients check `structuredContent` against the advertised schema,
 * which allows no others. A reply that does not fit is our bug, told as AM_ERR_INTERNAL.
 */
function outputOf(schema: z.ZodObject, value: unknown): Record<string, unknown> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new AppError('AM_ERR_INTERNAL', 'internal error', { cause: parsed.error });
}

function packageVersion(): string {
  try {
    // src/api/mcp and dist/api/mcp are both three levels below the package root.
    const file = new URL('../../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
