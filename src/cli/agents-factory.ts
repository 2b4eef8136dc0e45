import {
  type Agents,
  type AnyTool,
  createAgents,
  createToolRegistry,
  loadToolModules,
} from '../agents/index.ts';
import type { Config } from '../config.ts';
import { LlmMetrics } from '../node/llm-metrics.ts';
import type { ClientConfig } from '../protocol/index.ts';

function httpGetAllowlist(config: Config): string[] {
  return (config.AM_HTTP_GET_ALLOWLIST ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Agents with the metrics of the model calls they make (whoever serves /metrics registers them). */
export type ObservedAgents = Agents & { readonly llmMetrics: LlmMetrics };

/**
 * The agents (openai or offline) as configured: provider, endpoint, models per role, limits; a worker
 * adds the tools of its config file (`workerTools`). Their model calls are counted in `llmMetrics` (a new
 * LlmMetrics unless one is given); the offline agents make none.
 */
export function agentsFromConfig(
  config: Config,
  extraTools: readonly AnyTool[] = [],
  llmMetrics: LlmMetrics = new LlmMetrics(),
): ObservedAgents {
  const allowlist = httpGetAllowlist(config);
  const agents = createAgents({
    provider: config.AM_LLM_PROVIDER,
    llm: {
      ...(config.OPENAI_BASE_URL === undefined ? {} : { baseURL: config.OPENAI_BASE_URL }),
      ...(config.OPENAI_API_KEY === undefined ? {} : { apiKey: config.OPENAI_API_KEY }),
      models: {
        planner: config.AM_MODEL_PLANNER,
        worker: config.AM_MODEL_WORKER,
        auditor: config.AM_MODEL_AUDITOR,
      },
      structuredOutput: config.AM_LLM_STRUCTURED_OUTPUT,
      timeoutMs: config.AM_LLM_TIMEOUT_MS,
      observer: llmMetrics,
    },
    maxSteps: config.AM_MAX_STEPS,
    ...(allowlist.length > 0 ? { httpGet: { allowlist } } : {}),
    ...(extraTools.length > 0 ? { extraTools: [...extraTools] } : {}),
  });
  return { ...agents, llmMetrics };
}

/** The tools a worker's config file adds, and how to let go of them. */
export interface WorkerTools {
  /** Its tool modules' tools, then its MCP servers' tools (`<server>__<tool>`). */
  extra: AnyTool[];
  /** Every tool the model is offered, built-in ones first. */
  names: string[];
  /** Closes the MCP clients and ends their child processes within `timeoutMs`. Idempotent. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Loads `tool_modules` and starts `mcpServers` (docs/tools.md). A module or server that fails is an
 * AM_ERR_CONFIG_INVALID naming it, and nothing is left running.
 */
export async function workerTools(
  client: ClientConfig,
  config: Config,
  onLog: (server: string, line: string) => void,
): Promise<WorkerTools> {
  const allowlist = httpGetAllowlist(config);
  const builtIn = createToolRegistry(allowlist.length > 0 ? { httpGet: { allowlist } } : {}).names();
  const fromModules = await loadToolModules(client.tool_modules ?? [], { reserved: builtIn });
  const servers = client.mcpServers ?? {};
  if (Object.keys(servers).length === 0) {
    return {
      extra: fromModules,
      names: [...builtIn, ...fromModules.map((tool) => tool.name)],
      close: async () => {},
    };
  }
  // Loaded only here: the MCP SDK costs ~0.3 s of start-up that workers without servers do not pay.
  const { McpToolServers } = await import('../agents/tools/mcp-tool-servers.ts');
  const mcp = await McpToolServers.start(servers, {
    reserved: [...builtIn, ...fromModules.map((tool) => tool.name)],
    onLog,
  });
  const extra = [...fromModules, ...mcp.tools];
  return {
    extra,
    names: [...builtIn, ...extra.map((tool) => tool.name)],
    close: (timeoutMs) => mcp.close(timeoutMs),
  };
}
