import { SpanKind, trace } from '@opentelemetry/api';
import { z } from 'zod';
import type { AppContext } from '../node/app-context.ts';
import { type Principal, type Role, requireRole } from '../node/principal.ts';
import { contextFrom, inSpan } from '../node/tracing.ts';
import {
  AgentIdSchema,
  AnyTaskIdSchema,
  ClaimReplySchema,
  ClaimRequestSchema,
  GraphEventsQuerySchema,
  GraphEventsReplySchema,
  GraphIdSchema,
  HeartbeatReplySchema,
  HeartbeatRequestSchema,
  ListAgentsReplySchema,
  ListGraphsQuerySchema,
  ListGraphsReplySchema,
  ProgressRequestSchema,
  RegisterAgentReplySchema,
  RegisterAgentRequestSchema,
  ReleaseRequestSchema,
  SeqReplySchema,
  SubmitGraphReplySchema,
  SubmitGraphRequestSchema,
  SubmitResultReplySchema,
  SubmitResultRequestSchema,
  TaskGraphSchema,
} from '../protocol/index.ts';
import { listAgents, registerAgent, revokeAgent, rotateAgent } from './agent-operations.ts';
import {
  cancelGraph,
  getGraph,
  graphEvents,
  listGraphs,
  retryGraph,
  submitGraph,
} from './graph-operations.ts';
import { heartbeat, releaseTask, reportProgress, submitResult } from './task-operations.ts';

/**
 * Every operation once, transport-free: its input schema, who may call it and what it does. HTTP routes
 * and the NATS service (`am.cmd.v1.<name>`) both dispatch here, so bodies, auth and error codes are the
 * same on both. HTTP path parameters are merged into the input (`taskId`, `id`).
 */
export interface Operation<S extends z.ZodType = z.ZodType, O = unknown> {
  name: string;
  roles: readonly Role[];
  input: S;
  /** The shape of what `run` answers (documentation: the OpenAPI document and the NATS reply's `data`). */
  reply: z.ZodType<O>;
  run(ctx: AppContext, principal: Principal, input: z.output<S>, signal?: AbortSignal): Promise<O>;
}

function operation<S extends z.ZodType, O>(op: Operation<S, O>): Operation<S, O> {
  return op;
}

const WORKER: readonly Role[] = ['worker'];
const ADMIN: readonly Role[] = ['admin'];
const TaskParam = { taskId: AnyTaskIdSchema };
const GraphParam = { id: GraphIdSchema };

export const OPERATIONS = {
  PlanTask: operation({
    name: 'PlanTask',
    roles: ADMIN,
    input: SubmitGraphRequestSchema,
    reply: SubmitGraphReplySchema,
    run: (ctx, principal, input) => submitGraph(ctx, principal, input),
  }),
  ClaimTask: operation({
    name: 'ClaimTask',
    roles: WORKER,
    input: ClaimRequestSchema,
    reply: ClaimReplySchema,
    run: (ctx, principal, input, signal) => ctx.claims.claim(principal, input, signal),
  }),
  ExtendLease: operation({
    name: 'ExtendLease',
    roles: WORKER,
    input: HeartbeatRequestSchema.extend(TaskParam),
    reply: HeartbeatReplySchema,
    run: (ctx, principal, { taskId, ...body }) => heartbeat(ctx, principal, taskId, body),
  }),
  ReportProgress: operation({
    name: 'ReportProgress',
    roles: WORKER,
    input: ProgressRequestSchema.extend(TaskParam),
    reply: SeqReplySchema,
    run: (ctx, principal, { taskId, ...body }) => reportProgress(ctx, principal, taskId, body),
  }),
  ReleaseTask: operation({
    name: 'ReleaseTask',
    roles: WORKER,
    input: ReleaseRequestSchema.extend(TaskParam),
    reply: SeqReplySchema,
    run: (ctx, principal, { taskId, ...body }) => releaseTask(ctx, principal, taskId, body),
  }),
  SubmitResult: operation({
    name: 'SubmitResult',
    roles: WORKER,
    input: SubmitResultRequestSchema,
    reply: SubmitResultReplySchema,
    run: (ctx, principal, input) => submitResult(ctx, principal, input),
  }),
  GetGraph: operation({
    name: 'GetGraph',
    roles: WORKER,
    input: z.strictObject({ ...GraphParam, minSeq: z.coerce.number().int().min(0).optional() }),
    reply: TaskGraphSchema,
    run: (ctx, _principal, input) => getGraph(ctx, input.id, input.minSeq),
  }),
  ListGraphs: operation({
    name: 'ListGraphs',
    roles: WORKER,
    input: ListGraphsQuerySchema.extend({ minSeq: z.coerce.number().int().min(0).optional() }),
    reply: ListGraphsReplySchema,
    run: (ctx, _principal, input) => listGraphs(ctx, input),
  }),
  GetGraphEvents: operation({
    name: 'GetGraphEvents',
    roles: WORKER,
    input: GraphEventsQuerySchema.extend(GraphParam),
    reply: GraphEventsReplySchema,
    run: (ctx, _principal, { id, ...query }) => graphEvents(ctx, id, query),
  }),
  CancelGraph: operation({
    name: 'CancelGraph',
    roles: ADMIN,
    input: z.strictObject({ ...GraphParam, reason: z.string().max(4_000).optional() }),
    reply: SeqReplySchema,
    run: (ctx, principal, input) => cancelGraph(ctx, principal, input.id, input.reason),
  }),
  RetryGraph: operation({
    name: 'RetryGraph',
    roles: ADMIN,
    input: z.strictObject(GraphParam),
    reply: SeqReplySchema,
    run: (ctx, principal, input) => retryGraph(ctx, principal, input.id),
  }),
  RegisterAgent: operation({
    name: 'RegisterAgent',
    roles: ADMIN,
    input: RegisterAgentRequestSchema,
    reply: RegisterAgentReplySchema,
    run: (ctx, principal, input) => registerAgent(ctx, principal, input),
  }),
  ListAgents: operation({
    name: 'ListAgents',
    roles: ADMIN,
    input: z.strictObject({}),
    reply: ListAgentsReplySchema,
    run: async (ctx) => listAgents(ctx),
  }),
  RevokeAgent: operation({
    name: 'RevokeAgent',
    roles: ADMIN,
    input: z.strictObject({ id: AgentIdSchema }),
    reply: SeqReplySchema,
    run: (ctx, principal, input) => revokeAgent(ctx, principal, input.id),
  }),
  RotateAgent: operation({
    name: 'RotateAgent',
    roles: ADMIN,
    input: z.strictObject({ id: AgentIdSchema }),
    reply: RegisterAgentReplySchema,
    run: (ctx, principal, input) => rotateAgent(ctx, principal, input.id),
  }),
} as const;

export type OperationName = keyof typeof OPERATIONS;

/**
 * Checks the role, then that this node is ready (a node catching up or cut off from NATS answers
 * AM_ERR_NOT_READY rather than decide on a stale read model), then runs. Input must already be parsed
 * with `op.input`. While the node traces, the operation runs as the span `am.<name>`, a child of the
 * caller's `traceparent` (HTTP header, NATS header) when it sent one.
 */
export function invoke<S extends z.ZodType, O>(
  op: Operation<S, O>,
  ctx: AppContext,
  principal: Principal,
  input: z.output<S>,
  signal?: AbortSignal,
  traceparent?: string,
): Promise<O> {
  if (!ctx.claims.tracing) return untraced(op, ctx, principal, input, signal);
  return inSpan(
    `am.${op.name}`,
    contextFrom(traceparent),
    { kind: SpanKind.SERVER, attributes: spanAttributes(op.name, principal, input) },
    async (spanContext) => {
      const result = await untraced(op, ctx, principal, input, signal);
      // A submit learns its graph's id only now.
      const graphId = (result as { graphId?: unknown } | null)?.graphId;
      if (typeof graphId === 'string') trace.getSpan(spanContext)?.setAttribute('am.graph_id', graphId);
      return result;
    },
  );
}

function untraced<S extends z.ZodType, O>(
  op: Operation<S, O>,
  ctx: AppContext,
  principal: Principal,
  input: z.output<S>,
  signal?: AbortSignal,
): Promise<O> {
  requireRole(principal, op.roles);
  ctx.readiness.check();
  return op.run(ctx, principal, input, signal);
}

/** Ids only: never inputs, outputs or credentials. */
function spanAttributes(name: string, principal: Principal, input: unknown): Record<string, string> {
  const attributes: Record<string, string> = { 'am.operation': name, 'am.agent_id': principal.agentId };
  const fields = (input ?? {}) as { graphId?: unknown; taskId?: unknown; id?: unknown };
  const graphId =
    fields.graphId ?? (name.endsWith('Graph') || name === 'GetGraphEvents' ? fields.id : undefined);
  if (typeof graphId === 'string') attributes['am.graph_id'] = graphId;
  if (typeof fields.taskId === 'string') attributes['am.task_id'] = fields.taskId;
  return attributes;
}
