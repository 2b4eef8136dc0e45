import { randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AM_ERROR_META_KEY } from '../../../../src/api/mcp/tool-result.ts';
import type { ClaimReply, TaskGraph, TrailEvent } from '../../../../src/protocol/index.ts';
import { httpCall, startTestHttpApi, type TestHttpApi } from '../../../kit/index.ts';
import { call, connectMcp, ok, resourceJson, textOf } from './mcp-client.ts';

const ADMIN = 'mcp-test-admin-token-0123456789';
const TOOLS = [
  'submit_goal',
  'list_graphs',
  'get_graph',
  'get_events',
  'claim_task',
  'heartbeat',
  'report_progress',
  'submit_result',
  'release_task',
  'cancel_graph',
];
const STEP = { thought: 'add them', action: { type: 'tool', name: 'calculator', input: { expr: '17+25' } } };

describe('the MCP server at /mcp (SDK client over Streamable HTTP, a real API server)', () => {
  let testApi: TestHttpApi;
  let admin: Client;
  let worker: Client;
  const clients: Client[] = [];

  /** Tasks carry a capability unique to the test, so one test's claims never take another's work. */
  const newCapability = () => `cap-${randomBytes(4).toString('hex')}`;
  const lastSeq = () => testApi.node.ctx.store.lastSeq();

  beforeAll(async () => {
    testApi = await startTestHttpApi({ adminToken: ADMIN });
    const registered = await httpCall(() => testApi.url)('POST', '/v1/agents', ADMIN, {
      agentId: 'mcp-worker',
      role: 'worker',
    });
    expect(registered.status).toBe(201);
    admin = await connectMcp(testApi.url, ADMIN);
    worker = await connectMcp(testApi.url, String(registered.body.token));
    clients.push(admin, worker);
  });

  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await testApi?.cleanup();
  });

  it('lists the ten tools, each with a description and an input and an output schema', async () => {
    const { tools } = await worker.listTools();
    expect(tools.map((t) => t.name)).toEqual(TOOLS);
    for (const tool of tools) {
      expect(tool.description?.length).toBeGreaterThan(60);
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.outputSchema?.type).toBe('object');
      expect(Object.keys(tool.outputSchema?.properties ?? {}).length).toBeGreaterThan(0);
    }
    const claim = tools.find((t) => t.name === 'claim_task');
    expect(claim?.inputSchema.required).toEqual(['requestId']);
    expect(Object.keys(claim?.inputSchema.properties ?? {})).toEqual(['requestId', 'capabilities', 'waitMs']);
    const submit = tools.find((t) => t.name === 'submit_goal');
    expect(submit?.inputSchema.required).toEqual(['goal']);
    expect(submit?.inputSchema.additionalProperties).toBe(false);
    expect(claim?.description).toMatch(/heartbeat every leaseMs\/3/);
  });

  describe('a worker through one task of a graph an admin submitted', () => {
    it('claims (the same requestId twice gets the same claim), heartbeats, reports, submits, and the graph moves on', async () => {
      const capability = newCapability();
      const { graphId, seq } = await ok<{ graphId: string; seq: number }>(admin, 'submit_goal', {
        goal: 'add two numbers, then say so',
        tasks: [
          { id: 'add', title: 'Add', instructions: 'Compute 17+25.', capability },
          { id: 'say', title: 'Say', instructions: 'Say the sum.', dependsOn: ['add'], capability },
        ],
      });
      expect(seq).toBeGreaterThan(0);

      const requestId = `claim-${randomBytes(4).toString('hex')}`;
      const claimArgs = { requestId, capabilities: [capability], waitMs: 5_000 };
      const claim = await ok<ClaimReply>(worker, 'claim_task', claimArgs);
      expect(claim.task).toMatchObject({ id: 'add', graphId, kind: 'work', attempt: 1 });
      expect(claim.context.goal).toBe('add two numbers, then say so');
      // A retry whose answer was lost: the same claim, not a second task.
      const again = await ok<ClaimReply>(worker, 'claim_task', claimArgs);
      expect(again.claimToken).toBe(claim.claimToken);
      expect(again.task.id).toBe('add');

      const held = { graphId, taskId: 'add', claimToken: claim.claimToken };
      const beat = await ok<{ leaseUntil: string | null; cancelled: boolean }>(worker, 'heartbeat', held);
      expect(beat.cancelled).toBe(false);
      expect(Date.parse(beat.leaseUntil ?? '')).toBeGreaterThan(Date.now());
      const progress = await ok<{ seq: number }>(worker, 'report_progress', { ...held, step: STEP });
      expect(progress.seq).toBeGreaterThan(seq);
      const final = { thought: 'done', action: { type: 'final', answer: '42' } };
      const result = await ok<{ seq: number }>(worker, 'submit_result', {
        ...held,
        status: 'completed',
        output: '42',
        history: [{ ...STEP, observation: '42' }, final],
      });

      const graph = await ok<TaskGraph>(worker, 'get_graph', { graphId, minSeq: result.seq });
      const add = graph.tasks.find((t) => t.id === 'add');
      expect(add?.status).toBe('COMPLETED');
      expect(add?.result).toMatchObject({ output: '42', agentId: 'mcp-worker' });
      expect(add?.result?.history).toHaveLength(2);
      expect(graph.tasks.find((t) => t.id === 'say')?.status).toBe('READY');

      // The dependent is now offered, with the output it depends on.
      const next = await ok<ClaimReply>(worker, 'claim_task', {
        requestId: `${requestId}-next`,
        capabilities: [capability],
      });
      expect(next.task.id).toBe('say');
      expect(next.context.dependencies).toEqual([{ taskId: 'add', output: '42' }]);
      const released = await ok<{ seq: number }>(worker, 'release_task', {
        graphId,
        taskId: 'say',
        claimToken: next.claimToken,
      });
      expect(released.seq).toBeGreaterThan(result.seq);
    });

    it('answers { task: null }, not an error, when nothing is READY', async () => {
      const result = await call(worker, 'claim_task', {
        requestId: `idle-${randomBytes(4).toString('hex')}`,
        capabilities: [newCapability()],
      });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual({ task: null });
      expect(JSON.parse(textOf(result))).toEqual({ task: null });
    });
  });

  describe('an admin', () => {
    it('submits a goal and reads it back as a tool, as the graph resource and as the events resource', async () => {
      const { graphId, seq } = await ok<{ graphId: string; seq: number }>(admin, 'submit_goal', {
        goal: 'write a haiku about queues',
        idempotencyKey: `haiku-${randomBytes(4).toString('hex')}`,
      });
      const graph = await ok<TaskGraph>(admin, 'get_graph', { graphId, minSeq: seq });
      expect(graph.graph).toMatchObject({
        id: graphId,
        goal: 'write a haiku about queues',
        submittedBy: 'admin',
      });

      const { graphs } = await ok<{ graphs: Array<{ id: string }> }>(admin, 'list_graphs', { limit: 200 });
      expect(graphs.map((g) => g.id)).toContain(graphId);
      const { events } = await ok<{ events: TrailEvent[] }>(admin, 'get_events', { graphId });
      expect(events[0]).toMatchObject({ seq, type: 'GraphSubmitted', actor: 'admin' });

      const { resourceTemplates } = await admin.listResourceTemplates();
      expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual([
        'am://graphs/{graphId}',
        'am://graphs/{graphId}/events',
      ]);
      const { resources } = await admin.listResources();
      expect(resources.map((r) => r.uri)).toContain(`am://graphs/${graphId}`);

      const read = await admin.readResource({ uri: `am://graphs/${graphId}` });
      expect(read.contents[0]).toMatchObject({ uri: `am://graphs/${graphId}`, mimeType: 'application/json' });
      const asResource = resourceJson<TaskGraph>(read);
      expect(asResource.graph).toEqual(graph.graph);
      const trail = await admin.readResource({ uri: `am://graphs/${graphId}/events` });
      const trailEvents = resourceJson<{ events: TrailEvent[] }>(trail).events;
      expect(trailEvents.map((e) => e.seq)).toEqual(events.map((e) => e.seq));
    });

    it('cancels a graph, and a worker holding one of its tasks hears cancelled: true', async () => {
      const capability = newCapability();
      const { graphId } = await ok<{ graphId: string }>(admin, 'submit_goal', {
        goal: 'to be cancelled',
        tasks: [{ id: 'only', title: 'Only', instructions: 'x', capability }],
      });
      const claim = await ok<ClaimReply>(worker, 'claim_task', {
        requestId: `c-${randomBytes(4).toString('hex')}`,
        capabilities: [capability],
        waitMs: 5_000,
      });
      await ok(admin, 'cancel_graph', { graphId, reason: 'changed my mind' });
      const beat = await ok<{ cancelled: boolean }>(worker, 'heartbeat', {
        graphId,
        taskId: 'only',
        claimToken: claim.claimToken,
      });
      expect(beat.cancelled).toBe(true);
    });

    it('reading a graph that does not exist is a JSON-RPC error with the AM code', async () => {
      const missing = '00000000-0000-4000-8000-000000000000';
      await expect(admin.readResource({ uri: `am://graphs/${missing}` })).rejects.toMatchObject({
        code: -32002,
        data: { code: 'AM_ERR_GRAPH_NOT_FOUND', status: 404 },
      });
      const result = await call(admin, 'get_graph', { graphId: missing });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^AM_ERR_GRAPH_NOT_FOUND: /);
    });
  });

  describe('refusals come back as isError results with the AM code, and append nothing', () => {
    it('a worker token may not submit a goal', async () => {
      const before = await lastSeq();
      const result = await call(worker, 'submit_goal', { goal: 'not yours to give' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^AM_ERR_AUTH_FORBIDDEN: /);
      expect(result._meta?.[AM_ERROR_META_KEY]).toMatchObject({ code: 'AM_ERR_AUTH_FORBIDDEN', status: 403 });
      expect(result.structuredContent).toBeUndefined();
      expect(await lastSeq()).toBe(before);
    });

    it('bad input is AM_ERR_VALIDATION naming the field', async () => {
      const before = await lastSeq();
      const badTask = await call(admin, 'submit_goal', {
        goal: 'a graph with a bad task id',
        tasks: [{ id: 'not an id!', title: 'Bad', instructions: 'x' }],
      });
      expect(badTask.isError).toBe(true);
      expect(textOf(badTask)).toMatch(/^AM_ERR_VALIDATION: tasks\.0\.id: /);
      expect(badTask._meta?.[AM_ERROR_META_KEY]).toMatchObject({
        code: 'AM_ERR_VALIDATION',
        status: 400,
        field: 'tasks.0.id',
      });
      const missing = await call(worker, 'claim_task', { capabilities: ['x'] });
      expect(textOf(missing)).toMatch(/^AM_ERR_VALIDATION: requestId: /);
      const unknown = await call(worker, 'heartbeat', {
        graphId: '00000000-0000-4000-8000-000000000000',
        taskId: 'a',
        claimToken: '1',
        extra: true,
      });
      expect(textOf(unknown)).toBe('AM_ERR_VALIDATION: extra: unknown field extra');
      const badToken = await call(worker, 'submit_result', {
        graphId: '00000000-0000-4000-8000-000000000000',
        taskId: 'a',
        claimToken: 'abc',
        status: 'completed',
        output: 'x',
        history: [],
      });
      expect(textOf(badToken)).toMatch(/^AM_ERR_VALIDATION: claimToken: /);
      expect(await lastSeq()).toBe(before);
    });

    it('a claim token that is not the current claim is AM_ERR_STALE_CLAIM', async () => {
      const capability = newCapability();
      const { graphId } = await ok<{ graphId: string }>(admin, 'submit_goal', {
        goal: 'stale claims',
        tasks: [{ id: 't', title: 'T', instructions: 'x', capability }],
      });
      const claim = await ok<ClaimReply>(worker, 'claim_task', {
        requestId: `s-${randomBytes(4).toString('hex')}`,
        capabilities: [capability],
        waitMs: 5_000,
      });
      await ok(worker, 'release_task', { graphId, taskId: 't', claimToken: claim.claimToken });
      const stale = await call(worker, 'submit_result', {
        graphId,
        taskId: 't',
        claimToken: claim.claimToken,
        status: 'completed',
        output: 'too late',
      });
      expect(stale.isError).toBe(true);
      expect(textOf(stale)).toMatch(/^AM_ERR_STALE_CLAIM: /);
    });
  });
});
