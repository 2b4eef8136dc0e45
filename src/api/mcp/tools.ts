import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { AppContext } from '../../node/app-context.ts';
import type { Principal } from '../../node/principal.ts';
import {
  ClaimedTaskSchema,
  ClaimReplySchema,
  GraphEventsQuerySchema,
  GraphIdSchema,
  GraphViewSchema,
  HeartbeatReplySchema,
  SeqReplySchema,
  SubmitGraphReplySchema,
  SubmitResultReplySchema,
  TaskGraphSchema,
  TrailEventSchema,
} from '../../protocol/index.ts';
import { invoke, OPERATIONS } from '../operations.ts';

/**
 * One MCP tool over one operation: its input (the operation's own schema, or that schema with `graphId`
 * for the path parameter `id`), its structured output, and how the one maps onto `invoke`. No tool does
 * anything an HTTP route does not do the same way.
 */
export interface McpTool<I extends z.ZodType = z.ZodType, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  /** What an LLM reads to decide when and how to call it. */
  description: string;
  input: I;
  output: O;
  annotations: ToolAnnotations;
  run(ctx: AppContext, principal: Principal, input: z.output<I>, signal: AbortSignal): Promise<z.input<O>>;
}

function tool<I extends z.ZodType, O extends z.ZodObject>(definition: McpTool<I, O>): McpTool<I, O> {
  return definition;
}

/** claim_task's output: the claim, or `{ task: null }` when nothing was READY within waitMs. */
const ClaimToolOutput = z.object({
  task: ClaimedTaskSchema.nullable(),
  claimToken: ClaimReplySchema.shape.claimToken.optional(),
  leaseUntil: ClaimReplySchema.shape.leaseUntil.optional(),
  leaseMs: ClaimReplySchema.shape.leaseMs.optional(),
  context: ClaimReplySchema.shape.context.optional(),
});
const ListGraphsOutput = z.object({
  graphs: z.array(GraphViewSchema),
  /** Pass it as `cursor` for the next page; null on the last one. */
  nextCursor: z.string().nullable(),
  /** The stream sequence this server's read model had applied when it answered. */
  projectionSeq: z.number().int(),
});
const GraphEventsOutput = z.object({ events: z.array(TrailEventSchema) });

const GraphIdInput = { graphId: GraphIdSchema };
const READ: ToolAnnotations = { readOnlyHint: true, openWorldHint: false };
const WRITE: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, openWorldHint: false };

const CLAIM_PROTOCOL =
  'The worker protocol: claim_task → heartbeat every leaseMs/3 while working → report_progress after each ' +
  'Thought → Action → Observation step → submit_result with the whole history (or release_task to give ' +
  'the task back). graphId, taskId and claimToken come from claim_task.';

/** The tools, in the order `tools/list` shows them. Roles are the operations' own (admins may do all). */
export const MCP_TOOLS: readonly McpTool[] = [
  tool({
    name: 'submit_goal',
    title: 'Submit a goal',
    description:
      'Submit a goal for AgentManager to achieve (admin role). A planner splits it into a graph of tasks, ' +
      'workers do them in parallel, an auditor reviews the whole and may send tasks back for rework, and a ' +
      'synthesis task writes the final answer. Give `tasks` (ids, instructions, dependsOn) to set the graph ' +
      'yourself instead of having it planned. The same `idempotencyKey` returns the same graph on a retry. ' +
      'Returns graphId and seq; follow the graph with get_graph (pass seq as minSeq).',
    input: OPERATIONS.PlanTask.input,
    output: SubmitGraphReplySchema,
    annotations: { ...WRITE, idempotentHint: false },
    run: (ctx, principal, input, signal) => invoke(OPERATIONS.PlanTask, ctx, principal, input, signal),
  }),
  tool({
    name: 'list_graphs',
    title: 'List graphs',
    description:
      'List task graphs, newest first: id, status, goal, final output and failure. Filter by `status` ' +
      '(SUBMITTED, PLANNING, RUNNING, AUDITING, SYNTHESIZING, SUCCEEDED, FAILED, CANCELLED); `limit` is ' +
      '1-200 (default 50); pass the returned `nextCursor` as `cursor` for the next page.',
    input: OPERATIONS.ListGraphs.input,
    output: ListGraphsOutput,
    annotations: READ,
    run: (ctx, principal, input, signal) => invoke(OPERATIONS.ListGraphs, ctx, principal, input, signal),
  }),
  tool({
    name: 'get_graph',
    title: 'Get a graph',
    description:
      'The whole task graph: status (SUBMITTED → PLANNING → RUNNING → AUDITING → SYNTHESIZING → SUCCEEDED, ' +
      'or FAILED / CANCELLED), goal, final output, every task with its status, dependencies and latest ' +
      'result, and every audit. Pass a `seq` an earlier call returned as `minSeq` to read at least that write.',
    input: z.strictObject({ ...GraphIdInput, minSeq: OPERATIONS.GetGraph.input.shape.minSeq }),
    output: TaskGraphSchema,
    annotations: READ,
    run: (ctx, principal, { graphId, minSeq }, signal) =>
      invoke(
        OPERATIONS.GetGraph,
        ctx,
        principal,
        { id: graphId, ...(minSeq === undefined ? {} : { minSeq }) },
        signal,
      ),
  }),
  tool({
    name: 'get_events',
    title: "Get a graph's events",
    description:
      "A graph's audit trail, read from the event stream: every event in order (seq, type, at, taskId, " +
      'actor, data) — submissions, plans, claims, progress steps, results, audits, the outcome. `limit` is ' +
      '1-10000 (default 1000); page with `fromSeq` = the last seq + 1.',
    input: GraphEventsQuerySchema.extend(GraphIdInput),
    output: GraphEventsOutput,
    annotations: READ,
    run: (ctx, principal, { graphId, ...query }, signal) =>
      invoke(OPERATIONS.GetGraphEvents, ctx, principal, { id: graphId, ...query }, signal),
  }),
  tool({
    name: 'claim_task',
    title: 'Claim a task',
    description:
      'Claim one READY task to work on (worker role). `requestId` is required: use a new one per claim, and ' +
      'the same one when you retry a call whose answer you did not get — it returns the same claim, so no ' +
      'task is orphaned. Waits up to `waitMs` (0-30000, default 0) for work; `{ "task": null }` means ' +
      'nothing was READY (not an error: try again later). Tasks that require a capability are offered ' +
      'only to callers that list it in `capabilities`. The answer has the task (id, graphId, title, ' +
      'instructions), claimToken, leaseUntil, leaseMs and context (the goal, the outputs of the tasks it ' +
      `depends on, and the auditor's notes when it is reworked). ${CLAIM_PROTOCOL}`,
    input: OPERATIONS.ClaimTask.input,
    output: ClaimToolOutput,
    annotations: { ...WRITE, idempotentHint: true },
    run: async (ctx, principal, input, signal) =>
      (await invoke(OPERATIONS.ClaimTask, ctx, principal, input, signal)) ?? { task: null },
  }),
  tool({
    name: 'heartbeat',
    title: 'Extend a lease',
    description:
      'Keep a claimed task yours (worker role): extends its lease; call it every leaseMs/3 while you work, ' +
      'or the task is offered to another worker when leaseUntil passes. `cancelled: true` means the graph ' +
      'was cancelled or has stopped: stop working on the task and submit nothing. An error ' +
      `AM_ERR_STALE_CLAIM means the claim is no longer yours: drop the task. ${CLAIM_PROTOCOL}`,
    input: OPERATIONS.ExtendLease.input,
    output: HeartbeatReplySchema,
    annotations: { ...WRITE, idempotentHint: true },
    run: (ctx, principal, input, signal) => invoke(OPERATIONS.ExtendLease, ctx, principal, input, signal),
  }),
  tool({
    name: 'report_progress',
    title: 'Report a step',
    description:
      'Record one step of your work on a claimed task (worker role), as it happens, so people can follow ' +
      'it: `step` is { thought, action: { type: "tool", name, input } or { type: "final", answer }, ' +
      `observation? }. Returns the step's seq. ${CLAIM_PROTOCOL}`,
    input: OPERATIONS.ReportProgress.input,
    output: SeqReplySchema,
    annotations: WRITE,
    run: (ctx, principal, input, signal) => invoke(OPERATIONS.ReportProgress, ctx, principal, input, signal),
  }),
  tool({
    name: 'submit_result',
    title: 'Submit a result',
    description:
      'Finish a claimed task (worker role): `status: "completed"` with `output` (your answer), or ' +
      '`status: "failed"` with `error: { message, retryable }` (retryable gives the task another attempt). ' +
      '`history` is the whole list of steps that led there (the same step objects as report_progress). ' +
      'Sending the same submission again is harmless (same seq). AM_ERR_STALE_CLAIM means the lease ' +
      `expired and the task went to another worker: drop it. ${CLAIM_PROTOCOL}`,
    input: OPERATIONS.SubmitResult.input,
    output: SubmitResultReplySchema,
    annotations: { ...WRITE, idempotentHint: true },
    run: (ctx, principal, input, signal) => invoke(OPERATIONS.SubmitResult, ctx, principal, input, signal),
  }),
  tool({
    name: 'release_task',
    title: 'Release a task',
    description:
      'Give a claimed task back unfinished (worker role), e.g. when you cannot do it or must stop: it is ' +
      `READY again at once for another worker and no attempt is used. ${CLAIM_PROTOCOL}`,
    input: OPERATIONS.ReleaseTask.input,
    output: SeqReplySchema,
    annotations: WRITE,
    run: (ctx, principal, input, signal) => invoke(OPERATIONS.ReleaseTask, ctx, principal, input, signal),
  }),
  tool({
    name: 'cancel_graph',
    title: 'Cancel a graph',
    description:
      'Cancel a graph (admin role): its tasks are no longer offered and workers holding one are told to ' +
      'stop on their next heartbeat. A finished graph cannot be cancelled (AM_ERR_GRAPH_FINISHED).',
    input: z.strictObject({ ...GraphIdInput, reason: OPERATIONS.CancelGraph.input.shape.reason }),
    output: SeqReplySchema,
    annotations: { ...WRITE, destructiveHint: true, idempotentHint: false },
    run: (ctx, principal, { graphId, reason }, signal) =>
      invoke(
        OPERATIONS.CancelGraph,
        ctx,
        principal,
        { id: graphId, ...(reason === undefined ? {} : { reason }) },
        signal,
      ),
  }),
];
