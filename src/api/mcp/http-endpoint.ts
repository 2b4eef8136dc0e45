import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.ts';
import type { AppContext } from '../../node/app-context.ts';
import type { Principal } from '../../node/principal.ts';
import { problemOf } from '../http/problem-json.ts';
import { mcpServerFactory } from './mcp-server.ts';
import { originAllowed } from './origin-check.ts';

export interface McpEndpointOptions {
  ctx: AppContext;
  /** The app's bearer-token check (and rate limit); throws an AppError answered as problem+json. */
  authenticate(request: FastifyRequest, reply: FastifyReply): Promise<Principal>;
  /** Canonical origins besides the server's own that browsers may call /mcp from. */
  allowedOrigins: readonly string[];
}

export interface McpEndpoint {
  /** Requests being answered right now. */
  readonly inFlight: number;
  /** Ends every request in flight (their tool calls are aborted). For the app's onClose hook. */
  close(): Promise<void>;
}

/**
 * `POST /mcp`: MCP's Streamable HTTP transport, stateless with JSON responses. Each request gets a new
 * McpServer and transport and nothing outlives it, so N servers behind a load balancer are one MCP
 * server. GET and DELETE (the server-sent stream and session end) answer 405: a stateless server has
 * neither. Origin is checked before the token: a browser page on a foreign origin learns nothing.
 */
export function registerMcpEndpoint(app: FastifyInstance, opts: McpEndpointOptions): McpEndpoint {
  const createServer = mcpServerFactory(opts.ctx);
  const inFlight = new Set<McpServer>();

  const checkOrigin = (request: FastifyRequest) => {
    const allowed = originAllowed(
      request.headers.origin,
      { protocol: request.protocol, address: request.socket.localAddress, port: request.socket.localPort },
      opts.allowedOrigins,
    );
    if (!allowed) {
      throw new AppError(
        'AM_ERR_AUTH_FORBIDDEN',
        'requests from this Origin may not call /mcp (AM_MCP_ALLOWED_ORIGINS lists the allowed ones)',
      );
    }
  };

  app.route({
    method: ['GET', 'DELETE'],
    url: '/mcp',
    handler: async (request, reply) => {
      checkOrigin(request);
      await opts.authenticate(request, reply);
      const problem = problemOf(
        new AppError('AM_ERR_ROUTE_NOT_FOUND', 'this MCP server is stateless: POST only'),
      );
      return reply
        .code(405)
        .header('allow', 'POST')
        .type('application/problem+json')
        .send({ ...problem, status: 405, title: 'Method not allowed' });
    },
  });

  app.post('/mcp', async (request, reply) => {
    checkOrigin(request);
    const principal = await opts.authenticate(request, reply);
    if (request.body === undefined) {
      throw new AppError('AM_ERR_VALIDATION', 'the body must be a JSON-RPC message or batch');
    }
    const server = createServer(principal);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    inFlight.add(server);
    // The response's end, or its client going away: either way the exchange is over, and a tool call
    // still running (a long-polling claim) is aborted through its signal.
    reply.raw.on('close', () => {
      inFlight.delete(server);
      void server.close().catch(() => {});
    });
    reply.hijack();
    try {
      await server.connect(transport);
      await transport.handleRequest(request.raw, reply.raw, request.body);
    } catch (error) {
      request.log.error({ err: error }, 'MCP request failed');
      if (reply.raw.headersSent) {
        reply.raw.destroy();
        return;
      }
      const body = JSON.stringify(problemOf(new AppError('AM_ERR_INTERNAL', 'internal error'), request.url));
      reply.raw.writeHead(500, { 'content-type': 'application/problem+json' }).end(body);
    }
  });

  return {
    get inFlight() {
      return inFlight.size;
    },
    async close() {
      const servers = [...inFlight];
      inFlight.clear();
      await Promise.allSettled(servers.map((server) => server.close()));
    },
  };
}
