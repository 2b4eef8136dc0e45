import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClaimReply, TaskGraph } from '../../src/protocol/index.ts';
import { makeTempDir, startTestNats, type TestNats, waitUntil } from '../kit/index.ts';
import {
  AM_BIN,
  killAll,
  ROOT,
  type ServerProc,
  startServer,
  submitGraph,
  waitForGraph,
  workerConfig,
} from './support/processes.ts';

async function ok<T>(client: Client, name: string, args: Record<string, unknown>): Promise<T> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  return result.structuredContent as T;
}

const tokenOf = (file: string) =>
  (JSON.parse(readFileSync(file, 'utf8')) as { auth_token: string }).auth_token;

/** A chain of two tasks: completing the first makes the second READY (no manager needed for that). */
const chain = (capability: string) => ({
  goal: `mcp chain ${capability}`,
  tasks: [
    { id: 'first', title: 'First', instructions: 'Compute 17+25.', capability },
    { id: 'second', title: 'Second', instructions: 'Say it.', dependsOn: ['first'], capability },
  ],
});

/** claim_task then submit_result for the first task of a chain, as an LLM client would. */
async function workFirstTask(client: Client, capability: string): Promise<ClaimReply> {
  const claim = await ok<ClaimReply>(client, 'claim_task', {
    requestId: `e2e-${randomBytes(4).toString('hex')}`,
    capabilities: [capability],
    waitMs: 10_000,
  });
  expect(claim.task.id).toBe('first');
  await ok(client, 'submit_result', {
    graphId: claim.task.graphId,
    taskId: claim.task.id,
    claimToken: claim.claimToken,
    status: 'completed',
    output: '42',
    history: [{ thought: 'easy', action: { type: 'final', answer: '42' } }],
  });
  return claim;
}

/** `am mcp` with a piped stdin (the support's `am()` ignores stdin); stdout and stderr kept apart. */
function spawnMcp(config: string, env: Record<string, string> = {}) {
  const child: ChildProcess = spawn(process.execPath, [AM_BIN, 'mcp', '--config', config], {
    cwd: ROOT,
    env: { ...process.env, AM_LOG_LEVEL: 'info', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? String(signal)) as number | string);
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

const movedOn = (graph: TaskGraph) =>
  graph.tasks.find((t) => t.id === 'first')?.status === 'COMPLETED' &&
  graph.tasks.find((t) => t.id === 'second')?.status === 'READY';

describe('AM as an MCP server, against a real `am server`', () => {
  let nats: TestNats;
  let server: ServerProc;
  let dir: string;
  let adminConfig: string;

  beforeAll(async () => {
    nats = await startTestNats();
    dir = makeTempDir('am-e2e-mcp');
    server = await startServer({ natsUrl: nats.url, dir, env: { AM_MANAGER: 'false' } });
    adminConfig = join(dir, 'admin.json');
    writeFileSync(
      adminConfig,
      JSON.stringify({ client_agent_id: 'admin', server_url: server.url, auth_token: server.adminToken }),
    );
  });

  afterAll(async () => {
    await killAll();
    await nats?.cleanup();
  });

  it('over Streamable HTTP: a worker token claims and submits a result, and the graph moves on', async () => {
    const capability = `http-${randomBytes(3).toString('hex')}`;
    const token = tokenOf(await workerConfig(server, dir, 'mcp-http-worker'));
    const { graphId } = await submitGraph(server, chain(capability));
    const client = new Client({ name: 'e2e-http', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    try {
      const claim = await workFirstTask(client, capability);
      expect(claim.task.graphId).toBe(graphId);
      const graph = await waitForGraph(server, graphId, movedOn, 10_000);
      expect(graph.tasks.find((t) => t.id === 'first')?.result).toMatchObject({
        output: '42',
        agentId: 'mcp-http-worker',
      });
    } finally {
      await client.close();
    }
  });

  describe('over stdio (`am mcp --config FILE`, started by the SDK client)', () => {
    /** Starts `am mcp` the way an MCP host does; `unparsed` collects whatever on its stdout is not protocol. */
    async function connectStdio(config: string) {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [AM_BIN, 'mcp', '--config', config],
        cwd: ROOT,
        env: { AM_LOG_LEVEL: 'info' },
        stderr: 'pipe',
      });
      let stderr = '';
      transport.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const client = new Client({ name: 'e2e-stdio', version: '1.0.0' });
      // A stdout line that is not JSON-RPC lands here (from the first byte: set before connecting).
      const unparsed: Error[] = [];
      client.onerror = (error) => unparsed.push(error);
      await client.connect(transport);
      return { client, transport, unparsed, stderr: () => stderr };
    }

    /** Closes the client (which ends the child's stdin) and says how long the child took to be gone. */
    async function closeAndTime(client: Client, pid: number | null): Promise<number> {
      const started = Date.now();
      await client.close();
      const elapsed = Date.now() - started;
      expect(pid).not.toBeNull();
      expect(() => process.kill(pid ?? 0, 0)).toThrow(/ESRCH/);
      return elapsed;
    }

    it('an admin submits a goal and reads the graph; stdout carries only the protocol', async () => {
      const admin = await connectStdio(adminConfig);
      const pid = admin.transport.pid;
      const { graphId, seq } = await ok<{ graphId: string; seq: number }>(admin.client, 'submit_goal', {
        goal: 'a goal over stdio',
        tasks: [{ id: 'only', title: 'Only', instructions: 'x', capability: 'nobody' }],
      });
      const graph = await ok<TaskGraph>(admin.client, 'get_graph', { graphId, minSeq: seq });
      expect(graph.graph).toMatchObject({ id: graphId, goal: 'a goal over stdio', status: 'RUNNING' });
      const elapsed = await closeAndTime(admin.client, pid);
      // The child ended on its stdin's end, well before the SDK's 2 s SIGTERM fallback.
      expect(elapsed).toBeLessThan(1_900);
      expect(admin.unparsed).toEqual([]);
      // Its log lines went to stderr.
      expect(admin.stderr()).toMatch(/am mcp: forwarding stdio/);
      expect(admin.stderr()).toMatch(/"reason":"stdin ended"/);
    });

    it('a worker claims and submits a result, and the graph moves on', async () => {
      const capability = `stdio-${randomBytes(3).toString('hex')}`;
      const config = await workerConfig(server, dir, 'mcp-stdio-worker');
      const { graphId } = await submitGraph(server, chain(capability));
      const worker = await connectStdio(config);
      const pid = worker.transport.pid;
      const claim = await workFirstTask(worker.client, capability);
      expect(claim.task.graphId).toBe(graphId);
      const graph = await waitForGraph(server, graphId, movedOn, 10_000);
      expect(graph.tasks.find((t) => t.id === 'first')?.result?.agentId).toBe('mcp-stdio-worker');
      expect(await closeAndTime(worker.client, pid)).toBeLessThan(1_900);
      expect(worker.unparsed).toEqual([]);
    });
  });

  describe('the `am mcp` process on its own', () => {
    const children: ChildProcess[] = [];
    afterAll(() => {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    });

    const initialize = (id: number) => ({
      jsonrpc: '2.0',
      id,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    const stdoutMessages = (text: string) =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSONRPCMessageSchema.parse(JSON.parse(line)));

    it('answers what was asked before stdin ended, writes only JSON-RPC to stdout, and exits 0', async () => {
      const proc = spawnMcp(adminConfig, { AM_LOG_LEVEL: 'debug' });
      children.push(proc.child);
      const started = Date.now();
      proc.child.stdin?.end(
        [
          initialize(1),
          { jsonrpc: '2.0', method: 'notifications/initialized' },
          { jsonrpc: '2.0', id: 2, method: 'tools/list' },
        ]
          .map((m) => `${JSON.stringify(m)}\n`)
          .join(''),
      );
      expect(await proc.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(5_000);
      const messages = stdoutMessages(proc.stdout());
      expect(messages.map((m) => ('id' in m ? m.id : null)).sort()).toEqual([1, 2]);
      expect(proc.stderr()).toMatch(/"reason":"stdin ended"/);
    });

    it('ends within seconds on SIGTERM, and answers a refused token with a JSON-RPC error', async () => {
      const badConfig = join(dir, 'bad.json');
      writeFileSync(
        badConfig,
        JSON.stringify({
          client_agent_id: 'nobody',
          server_url: server.url,
          auth_token: 'not-a-valid-token-0123456789',
        }),
      );
      const proc = spawnMcp(badConfig);
      children.push(proc.child);
      proc.child.stdin?.write(`${JSON.stringify(initialize(7))}\n`);
      await waitUntil(() => proc.stdout().includes('refused the token'), { timeoutMs: 10_000 });
      const started = Date.now();
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(3_000);
      const [reply] = stdoutMessages(proc.stdout());
      expect(reply).toMatchObject({ id: 7, error: { message: expect.stringMatching(/refused the token/) } });
    });
  });
});
