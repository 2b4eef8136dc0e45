import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpToolServers } from '../../../src/agents/tools/mcp-tool-servers.ts';
import { type ToolContext, ToolRegistry } from '../../../src/agents/tools/registry.ts';
import { isAppError } from '../../../src/errors.ts';
import { spawnProc } from '../../e2e/support/processes.ts';
import { freePort, waitUntil } from '../../kit/index.ts';

const ROOT = join(import.meta.dirname, '../../..');
const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const STUBBORN = join(import.meta.dirname, 'stubborn-mcp-server.mjs');

const ctx: ToolContext = {
  task: { id: 't', graphId: 'g', title: 'T', instructions: '', kind: 'work', attempt: 1, cycle: 1 },
  context: { goal: 'goal', dependencies: [] },
};

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function startError(servers: Parameters<typeof McpToolServers.start>[0]): Promise<Error> {
  try {
    const started = await McpToolServers.start(servers);
    await started.close();
  } catch (error) {
    expect(isAppError(error) && error.code).toBe('AM_ERR_CONFIG_INVALID');
    return error as Error;
  }
  throw new Error('started');
}

describe('MCP tool servers (server-everything over stdio)', () => {
  let servers: McpToolServers;
  let registry: ToolRegistry;
  const SECRET = 'AM_INT_WORKER_SECRET';

  beforeAll(async () => {
    // The worker's own environment: a stdio server must not see it.
    process.env[SECRET] = 'must-not-leak';
    const started = performance.now();
    servers = await McpToolServers.start(
      {
        everything: {
          command: process.execPath,
          args: [EVERYTHING, 'stdio'],
          env: { GREETING: 'configured' },
          timeoutMs: 1_000,
        },
      },
      { reserved: ['calculator', 'read_dependency'] },
    );
    console.log(`server-everything started and listed in ${Math.round(performance.now() - started)} ms`);
    registry = new ToolRegistry(servers.tools);
  });

  afterAll(async () => {
    delete process.env[SECRET];
    await servers?.close();
  });

  it('offers its tools as <server>__<tool>, keeping a map back to the real names', () => {
    expect(registry.names()).toEqual(expect.arrayContaining(['everything__echo', 'everything__get-env']));
    expect(servers.mappings).toContainEqual({ name: 'everything__echo', server: 'everything', tool: 'echo' });
  });

  it("shows the model each tool's own JSON Schema", () => {
    const echo = registry.describe().find((tool) => tool.name === 'everything__echo');
    expect(echo?.description).toBe('Echoes back the input string');
    expect(echo?.inputSchema).toMatchObject({
      type: 'object',
      properties: { message: { type: 'string' } },
      required: ['message'],
    });
  });

  it('runs a call through the registry: the observation is the text content', async () => {
    const started = performance.now();
    expect(await registry.run('everything__echo', { message: 'hello from AM' }, ctx)).toBe(
      'Echo: hello from AM',
    );
    console.log(`one echo call: ${(performance.now() - started).toFixed(1)} ms`);
  });

  it('turns an error result (here: arguments the server rejects) into an Error observation', async () => {
    expect(await registry.run('everything__echo', { text: 'wrong field' }, ctx)).toMatch(
      /^Error: everything__echo failed: .*message/,
    );
  });

  it('refuses input that is not a JSON object before calling the server', async () => {
    expect(await registry.run('everything__echo', ['x'], ctx)).toMatch(
      /^Error: invalid input for everything__echo/,
    );
  });

  it('turns a call past timeoutMs into an Error observation, and the server keeps answering', async () => {
    const observation = await registry.run(
      'everything__trigger-long-running-operation',
      { duration: 5, steps: 5 },
      ctx,
    );
    expect(observation).toBe(
      'Error: everything__trigger-long-running-operation failed: timed out after 1000 ms',
    );
    expect(await registry.run('everything__echo', { message: 'still here' }, ctx)).toBe('Echo: still here');
  });

  it('gives the child only the safe defaults and its configured env, never the worker environment', async () => {
    const env = JSON.parse(await registry.run('everything__get-env', {}, ctx)) as Record<string, string>;
    expect(env.GREETING).toBe('configured');
    expect(env.PATH).toBe(process.env.PATH);
    expect(env[SECRET]).toBeUndefined();
    expect(Object.keys(env).filter((key) => key.startsWith('AM_') || key.startsWith('OPENAI_'))).toEqual([]);
    // Nothing beyond the SDK's default list (HOME, LOGNAME, PATH, SHELL, TERM, USER) and GREETING,
    // apart from what node itself adds to its own environment.
    const allowed = new Set(['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER', 'GREETING']);
    expect(Object.keys(env).filter((key) => !allowed.has(key) && key in process.env)).toEqual([]);
  });

  it('offers only allowTools when given', async () => {
    const filtered = await McpToolServers.start({
      e: { command: process.execPath, args: [EVERYTHING, 'stdio'], allowTools: ['echo', 'get-sum'] },
    });
    try {
      expect(filtered.tools.map((tool) => tool.name)).toEqual(['e__echo', 'e__get-sum']);
    } finally {
      await filtered.close();
    }
  });
});

describe('when a server cannot start', () => {
  it.each([
    [
      'a command that does not exist',
      { command: 'no-such-mcp-server-xyz' },
      /spawn no-such-mcp-server-xyz ENOENT/,
    ],
    [
      'a process that exits at once, with its stderr',
      { command: process.execPath, args: ['-e', 'console.error("bad flag --nope"); process.exit(3)'] },
      /Connection closed; its stderr ended: bad flag --nope/,
    ],
    [
      'a process that never answers initialize',
      { command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], timeoutMs: 300 },
      /timed out after 300 ms/,
    ],
    ['an HTTP server nobody listens on', { url: 'http://127.0.0.1:9/mcp' }, /fetch failed/],
    [
      'allowTools naming a tool the server lacks',
      { command: process.execPath, args: [EVERYTHING, 'stdio'], allowTools: ['echo', 'ecko'] },
      /allowTools: the server has no tool "ecko"; it has: echo, /,
    ],
  ])('names the server and the reason: %s', async (_what, config, reason) => {
    const error = await startError({ broken: config });
    expect(error.message).toMatch(/^mcpServers\.broken(\.allowTools)?: /);
    expect(error.message).toMatch(reason);
  });

  it('closes the servers that did start', async () => {
    const error = await startError({
      good: { command: process.execPath, args: [STUBBORN], timeoutMs: 5_000 },
      bad: { command: 'no-such-mcp-server-xyz' },
    });
    expect(error.message).toMatch(/^mcpServers\.bad: /);
    // The started server's pid never left McpToolServers.start; the process table shows whether it is gone.
    await waitUntil(() => !psHas(STUBBORN), { timeoutMs: 5_000, message: 'the started server is gone' });
  });
});

/** Whether a process whose command line mentions `needle` is running. */
function psHas(needle: string): boolean {
  return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .some((line) => line.includes(needle));
}

describe('closing', () => {
  it('ends a child that ignores its stdin closing and SIGTERM with SIGKILL, within the bound', async () => {
    const servers = await McpToolServers.start({ stubborn: { command: process.execPath, args: [STUBBORN] } });
    const pid = Number(await new ToolRegistry(servers.tools).run('stubborn__pid', {}, ctx));
    expect(isAlive(pid)).toBe(true);
    const started = performance.now();
    await servers.close(600);
    const took = performance.now() - started;
    console.log(`closing a stubborn server took ${Math.round(took)} ms (bound 600 ms)`);
    await waitUntil(() => !isAlive(pid), { timeoutMs: 2_000, message: 'the stubborn child is gone' });
    expect(took).toBeLessThan(1_500);
    await servers.close(600); // idempotent
  });

  it('ends server-everything by closing its stdin, quickly', async () => {
    const servers = await McpToolServers.start({
      e: { command: process.execPath, args: [EVERYTHING, 'stdio'] },
    });
    const started = performance.now();
    await servers.close(3_000);
    console.log(`closing server-everything took ${Math.round(performance.now() - started)} ms`);
  });
});

describe('MCP tool servers over Streamable HTTP', () => {
  let http: Server;
  let url: string;
  const seen: string[] = [];

  beforeAll(async () => {
    // A stateless server in this process, so the test can see the headers a request arrived with.
    http = createServer((req, res) => {
      seen.push(String(req.headers.authorization));
      const server = new McpServer({ name: 'headers', version: '1.0.0' });
      server.registerTool(
        'whoami',
        { description: 'Says which Authorization header came.' },
        async (extra) => ({
          content: [{ type: 'text', text: `auth=${String(extra.requestInfo?.headers.authorization)}` }],
        }),
      );
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      void server.connect(transport).then(() => transport.handleRequest(req, res));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  });

  afterAll(async () => {
    http?.closeAllConnections();
    await new Promise((resolve) => http?.close(resolve));
  });

  it('connects with the configured headers and calls a tool', async () => {
    const servers = await McpToolServers.start({
      remote: { url, headers: { Authorization: 'Bearer tool-token' } },
    });
    try {
      const registry = new ToolRegistry(servers.tools);
      expect(registry.names()).toEqual(['remote__whoami']);
      expect(await registry.run('remote__whoami', {}, ctx)).toBe('auth=Bearer tool-token');
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((header) => header === 'Bearer tool-token')).toBe(true);
    } finally {
      await servers.close();
    }
  });

  it('talks to server-everything in its streamableHttp mode', async () => {
    const port = await freePort();
    const everything = spawnProc(process.execPath, [EVERYTHING, 'streamableHttp'], { PORT: String(port) });
    try {
      await everything.waitFor(/listening on port/, 20_000);
      const servers = await McpToolServers.start({ web: { url: `http://127.0.0.1:${port}/mcp` } });
      try {
        expect(await new ToolRegistry(servers.tools).run('web__echo', { message: 'over http' }, ctx)).toBe(
          'Echo: over http',
        );
      } finally {
        await servers.close();
      }
    } finally {
      await everything.stop('SIGKILL');
    }
  });
});
