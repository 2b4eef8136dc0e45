import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  type Tool as McpTool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import { DEFAULT_MCP_TIMEOUT_MS, type McpServerConfig } from '../../protocol/index.ts';
import { mcpResultText } from './mcp-result.ts';
import { type AnyTool, ToolError } from './registry.ts';
import { mcpToolName } from './tool-names.ts';

/** The last stderr lines of a stdio server kept for the message when it fails to start. */
const STDERR_TAIL_LINES = 10;
/** A tool description longer than this is cut: every description is in every prompt. */
const MAX_DESCRIPTION_CHARS = 1_000;

export interface McpToolServersOptions {
  /** Names the model already knows (built-in and module tools): MCP tools are named around them. */
  reserved?: readonly string[];
  /** A line a stdio server wrote to stderr, or a note that a server went away. Default: dropped. */
  onLog?: (server: string, line: string) => void;
  /** How AM introduces itself to the servers. */
  clientInfo?: { name: string; version: string };
}

/** One connected server: its client, and what a shutdown needs to be sure the child is gone. */
interface Connection {
  server: string;
  config: McpServerConfig;
  client: Client;
  transport: StdioClientTransport | StreamableHTTPClientTransport;
  /** The stdio child's pid, kept because the transport forgets it as soon as it starts closing. */
  pid: number | null;
  tools: McpTool[];
}

/** A tool the model may call: the name it sees, and where it really lives. */
export interface McpToolMapping {
  name: string;
  server: string;
  tool: string;
}

/**
 * The MCP tool servers of a worker's `mcpServers`: started (stdio) or connected (Streamable HTTP) once,
 * their tools listed and offered as `<server>__<tool>` tools that run through the ToolRegistry like
 * any other. A stdio server gets only the SDK's safe default environment (PATH, HOME, …) plus its
 * configured `env` — never the worker's own, which holds the model's API key and AM's token.
 */
export class McpToolServers {
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly connections: readonly Connection[],
    /** The tools, in config order. */
    readonly tools: readonly AnyTool[],
    /** Exposed name → server and real tool name. */
    readonly mappings: readonly McpToolMapping[],
  ) {}

  /**
   * Starts every server at once. If any fails, the others are closed again and the error (an
   * AM_ERR_CONFIG_INVALID) names the server and the reason.
   */
  static async start(
    servers: Readonly<Record<string, McpServerConfig>>,
    options: McpToolServersOptions = {},
  ): Promise<McpToolServers> {
    const entries = Object.entries(servers);
    const settled = await Promise.allSettled(
      entries.map(([server, config]) => connectServer(server, config, options)),
    );
    const connections = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
    if (failures.length > 0) {
      await Promise.all(connections.map((connection) => closeConnection(connection, 3_000)));
      throw new AppError('AM_ERR_CONFIG_INVALID', failures.map((error) => error.message).join('; '), {
        cause: failures[0],
      });
    }
    const taken = new Set(options.reserved ?? []);
    const tools: AnyTool[] = [];
    const mappings: McpToolMapping[] = [];
    for (const connection of connections) {
      for (const tool of connection.tools) {
        const name = mcpToolName(connection.server, tool.name, taken);
        tools.push(wrapTool(connection, tool, name));
        mappings.push({ name, server: connection.server, tool: tool.name });
      }
    }
    return new McpToolServers(connections, tools, mappings);
  }

  /**
   * Closes every client and ends every child process, within `timeoutMs` (a child that has not gone by
   * then is SIGKILLed). Idempotent.
   */
  close(timeoutMs = 3_000): Promise<void> {
    this.closing ??= Promise.all(
      this.connections.map((connection) => closeConnection(connection, timeoutMs)),
    ).then(() => undefined);
    return this.closing;
  }
}

async function connectServer(
  server: string,
  config: McpServerConfig,
  options: McpToolServersOptions,
): Promise<Connection> {
  const timeout = config.timeoutMs ?? DEFAULT_MCP_TIMEOUT_MS;
  const stderrTail: string[] = [];
  const transport = createTransport(config);
  if (transport instanceof StdioClientTransport) {
    let partial = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        stderrTail.push(line);
        if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
        options.onLog?.(server, line);
      }
    });
  }
  const client = new Client(options.clientInfo ?? { name: 'agentmanager-worker', version: '1.0.0' });
  const what =
    config.url === undefined ? `"${[config.command, ...(config.args ?? [])].join(' ')}"` : config.url;
  const connection: Connection = { server, config, client, transport, pid: null, tools: [] };
  try {
    await client.connect(transport, { timeout });
    if (transport instanceof StdioClientTransport) connection.pid = transport.pid;
    connection.tools = await listTools(client, timeout);
  } catch (error) {
    if (transport instanceof StdioClientTransport) connection.pid ??= transport.pid;
    await closeConnection(connection, 2_000);
    const tail = stderrTail.length ? `; its stderr ended: ${stderrTail.join(' | ')}` : '';
    throw new Error(`mcpServers.${server}: could not start ${what}: ${reason(error, timeout)}${tail}`, {
      cause: error,
    });
  }
  const allowed = config.allowTools;
  if (allowed !== undefined) {
    const names = new Set(connection.tools.map((tool) => tool.name));
    const missing = allowed.filter((name) => !names.has(name));
    if (missing.length > 0) {
      await closeConnection(connection, 2_000);
      throw new Error(
        `mcpServers.${server}.allowTools: the server has no tool ${missing.map((n) => `"${n}"`).join(', ')}; it has: ${[...names].join(', ') || '(none)'}`,
      );
    }
    connection.tools = connection.tools.filter((tool) => allowed.includes(tool.name));
  }
  client.onclose = () => {
    if (connection.pid !== null || config.url !== undefined) {
      options.onLog?.(server, 'the connection closed; its tools now answer with an error');
    }
  };
  return connection;
}

function createTransport(config: McpServerConfig): StdioClientTransport | StreamableHTTPClientTransport {
  if (config.url !== undefined) {
    return new StreamableHTTPClientTransport(new URL(config.url), {
      ...(config.headers === undefined ? {} : { requestInit: { headers: config.headers } }),
    });
  }
  return new StdioClientTransport({
    // The schema guarantees a command for every server without a url.
    command: config.command ?? '',
    args: config.args ?? [],
    // The SDK adds only its safe defaults (PATH, HOME, …) to this: the worker's environment stays out.
    env: config.env ?? {},
    ...(config.cwd === undefined ? {} : { cwd: config.cwd }),
    stderr: 'pipe',
  });
}

async function listTools(client: Client, timeout: number): Promise<McpTool[]> {
  const tools: McpTool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout });
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor !== undefined && tools.length < 10_000);
  return tools;
}

/** Arguments are a JSON object; the server validates them against its own schema. */
const McpArgumentsSchema = z.record(z.string(), z.unknown());

function wrapTool(connection: Connection, tool: McpTool, name: string): AnyTool {
  const { server, client, config } = connection;
  const timeout = config.timeoutMs ?? DEFAULT_MCP_TIMEOUT_MS;
  const text = (tool.description ?? tool.title ?? '').trim();
  const description = text
    ? text.slice(0, MAX_DESCRIPTION_CHARS)
    : `The "${tool.name}" tool of the MCP server "${server}".`;
  return {
    name,
    description,
    inputSchema: McpArgumentsSchema,
    inputJsonSchema: tool.inputSchema,
    async run(input: Record<string, unknown>, { signal }) {
      let result: CallToolResult;
      try {
        // The default result schema (CallToolResultSchema) is what parses the reply; the declared return
        // type also admits the pre-2024-11 `{ toolResult }` shape, which only the compatibility schema gives.
        result = (await client.callTool({ name: tool.name, arguments: input }, undefined, {
          timeout,
          ...(signal ? { signal } : {}),
        })) as CallToolResult;
      } catch (error) {
        if (signal?.aborted) throw error;
        throw new ToolError(reason(error, timeout));
      }
      const observation = mcpResultText(result);
      if (result.isError === true) throw new ToolError(observation || 'the tool reported an error');
      return observation;
    },
  };
}

function reason(error: unknown, timeout: number): string {
  if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
    return `timed out after ${timeout} ms`;
  }
  if (!(error instanceof Error)) return String(error);
  // fetch says only "fetch failed"; why (ECONNREFUSED, a DNS failure) is in its cause.
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const why = (cause as NodeJS.ErrnoException | undefined)?.code ?? cause?.message;
  return why === undefined || error.message.includes(why) ? error.message : `${error.message} (${why})`;
}

/**
 * Closes the client (for stdio: ends the child's stdin, which a well-behaved server takes as its cue to
 * exit). A child still there after half of `timeoutMs` gets SIGTERM, and SIGKILL at `timeoutMs`: the
 * SDK alone would wait 2 s before its own SIGTERM, longer than a worker's shutdown may spend here.
 */
async function closeConnection(connection: Connection, timeoutMs: number): Promise<void> {
  const { client, transport } = connection;
  const pid = connection.pid ?? (transport instanceof StdioClientTransport ? transport.pid : null);
  client.onclose = undefined;
  const closing = (async () => {
    if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
      // Tells the server the session is over; a server that does not keep sessions may refuse (405).
      await transport.terminateSession().catch(() => {});
    }
    await client.close();
  })().catch(() => {});
  const half = Math.floor(timeoutMs / 2);
  await within(closing, half);
  if (pid === null) {
    await within(closing, timeoutMs - half);
    return;
  }
  signal(pid, 'SIGTERM');
  await within(closing, timeoutMs - half);
  signal(pid, 'SIGKILL');
}

async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Signals the child if it is still there (a pid is only reused long after its process is reaped). */
function signal(pid: number, name: NodeJS.Signals): void {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, name);
  } catch {
    // Gone between the check and the signal.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
