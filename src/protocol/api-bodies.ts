import { z } from 'zod';
import { GraphOptionsSchema } from './graph-options.ts';
import { AgentIdSchema, AnyTaskIdSchema, GraphIdSchema } from './ids.ts';
import { LIMITS } from './limits.ts';
import { TaskErrorSchema, UsageSchema } from './result.ts';
import { GraphStatusSchema, TaskKindSchema } from './status.ts';
import { StepSchema } from './step.ts';
import { GraphViewSchema } from './task-graph.ts';
import { TaskSpecSchema } from './task-spec.ts';

/** Request and reply bodies shared by HTTP, NATS and the worker client (DESIGN.md "Interfaces"). */

const ClaimTokenField = z.string().regex(/^[1-9][0-9]{0,19}$/, 'a claim token is a decimal sequence');
const RequestIdField = z.string().min(1).max(LIMITS.maxRequestIdChars);
const CapabilityField = z.string().min(1).max(LIMITS.maxCapabilityChars);

/**
 * POST /v1/tasks — PlanTask. Strict at every level, so a typo (`maxReworkCycle`) is refused rather than
 * dropped; the event schemas stay lenient, since stored events must stay readable by later builds.
 */
export const SubmitGraphRequestSchema = z.strictObject({
  goal: z.string().min(1).max(LIMITS.maxGoalChars),
  tasks: z.array(z.strictObject(TaskSpecSchema.shape)).min(1).max(LIMITS.maxTasksPerGraph).optional(),
  options: z.strictObject(GraphOptionsSchema.partial().shape).optional(),
  idempotencyKey: z.string().min(1).max(LIMITS.maxIdempotencyKeyChars).optional(),
});
export type SubmitGraphRequest = z.infer<typeof SubmitGraphRequestSchema>;
export const SubmitGraphReplySchema = z.object({ graphId: GraphIdSchema, seq: z.number().int() });
export type SubmitGraphReply = z.infer<typeof SubmitGraphReplySchema>;

/** POST /v1/tasks/claim — ClaimTask. */
export const ClaimRequestSchema = z.strictObject({
  requestId: RequestIdField,
  capabilities: z.array(CapabilityField).max(64).optional(),
  /** Long-poll up to this long for work (max 30 s). Default 0: answer at once. */
  waitMs: z.number().int().min(0).max(30_000).optional(),
});
export type ClaimRequest = z.infer<typeof ClaimRequestSchema>;

export const ClaimedTaskSchema = z.object({
  id: AnyTaskIdSchema,
  graphId: GraphIdSchema,
  title: z.string(),
  instructions: z.string(),
  kind: TaskKindSchema,
  attempt: z.number().int().min(1),
  cycle: z.number().int().min(1),
});
export type ClaimedTask = z.infer<typeof ClaimedTaskSchema>;

export const ClaimContextSchema = z.object({
  goal: z.string(),
  dependencies: z.array(z.object({ taskId: z.string(), output: z.string() })),
  /** Present when the task is reworked: what the auditor said and what the task produced before. */
  rework: z.object({ notes: z.string(), previousOutput: z.string().nullable() }).optional(),
});
export type ClaimContext = z.infer<typeof ClaimContextSchema>;

export const ClaimReplySchema = z.object({
  task: ClaimedTaskSchema,
  claimToken: ClaimTokenField,
  leaseUntil: z.iso.datetime(),
  /** The graph's lease length: a heartbeat every third of it keeps the claim. */
  leaseMs: z.number().int().positive(),
  context: ClaimContextSchema,
  /** Only while the server traces (AM_OTLP_ENDPOINT): the W3C traceparent of the claim's span in the graph's trace. */
  traceparent: z.string().max(128).optional(),
});
export type ClaimReply = z.infer<typeof ClaimReplySchema>;

/** POST /v1/tasks/:taskId/heartbeat — ExtendLease. */
export const HeartbeatRequestSchema = z.strictObject({ graphId: GraphIdSchema, claimToken: ClaimTokenField });
export type HeartbeatRequest = z.infer<typeof HeartbeatRequestSchema>;
export const HeartbeatReplySchema = z.object({
  leaseUntil: z.iso.datetime().nullable(),
  /** The graph was cancelled or stopped: stop working on the task. */
  cancelled: z.boolean(),
});
export type HeartbeatReply = z.infer<typeof HeartbeatReplySchema>;

/** POST /v1/tasks/:taskId/progress — ReportProgress. */
export const ProgressRequestSchema = z.strictObject({
  graphId: GraphIdSchema,
  claimToken: ClaimTokenField,
  step: StepSchema,
  /** The step's position in the attempt's history. Default: the next one this server has seen. */
  index: z.number().int().min(0).max(LIMITS.maxStepsPerResult).optional(),
});
export type ProgressRequest = z.infer<typeof ProgressRequestSchema>;

/** POST /v1/tasks/:taskId/release — ReleaseTask. */
export const ReleaseRequestSchema = z.strictObject({
  graphId: GraphIdSchema,
  claimToken: ClaimTokenField,
  reason: z.string().max(LIMITS.maxErrorMessageChars).optional(),
});
export type ReleaseRequest = z.infer<typeof ReleaseRequestSchema>;

/**
 * `next` of a result: claim another task in the same round trip (as BullMQ hands out the next job when
 * one completes). It never long-polls; an empty queue answers `next: null`.
 */
export const NextClaimRequestSchema = z.strictObject({
  requestId: RequestIdField,
  capabilities: z.array(CapabilityField).max(64).optional(),
});
export type NextClaimRequest = z.infer<typeof NextClaimRequestSchema>;

/** POST /v1/results — SubmitResult. */
export const SubmitResultRequestSchema = z
  .strictObject({
    graphId: GraphIdSchema,
    taskId: AnyTaskIdSchema,
    claimToken: ClaimTokenField,
    status: z.enum(['completed', 'failed']),
    output: z.string().max(LIMITS.maxOutputChars).optional(),
    history: z.array(StepSchema).max(LIMITS.maxStepsPerResult).default([]),
    usage: UsageSchema.optional(),
    model: z.string().max(200).optional(),
    promptVersion: z.string().max(64).optional(),
    error: TaskErrorSchema.optional(),
    next: NextClaimRequestSchema.optional(),
  })
  .refine((body) => body.status !== 'completed' || body.output !== undefined, {
    message: 'output is required when status is completed',
    path: ['output'],
  });
/** What a client sends (`history` may be left out). */
export type SubmitResultRequest = z.input<typeof SubmitResultRequestSchema>;
/** What the server works with, once parsed. */
export type ParsedSubmitResult = z.output<typeof SubmitResultRequestSchema>;
export const SeqReplySchema = z.object({ seq: z.number().int() });
export type SeqReply = z.infer<typeof SeqReplySchema>;
export const SubmitResultReplySchema = SeqReplySchema.extend({
  /** Only when the request asked for `next`: the task claimed for it, or null when none was READY. */
  next: ClaimReplySchema.nullable().optional(),
});
export type SubmitResultReply = z.infer<typeof SubmitResultReplySchema>;

/** GET /v1/graphs */
export const ListGraphsQuerySchema = z.strictObject({
  status: GraphStatusSchema.optional(),
  /** The `nextCursor` of a previous page (`<created_at>|<graph id>`); anything else is refused. */
  cursor: z
    .string()
    .max(200)
    .regex(/^\d{4}-\d{2}-\d{2}T[^|]+\|[0-9a-fA-F-]{36}$/, 'not a cursor this server handed out')
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type ListGraphsQuery = z.infer<typeof ListGraphsQuerySchema>;

export const ListGraphsReplySchema = z.object({
  graphs: z.array(GraphViewSchema),
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: z.string().nullable(),
  /** The read model's applied stream sequence when the page was read. */
  projectionSeq: z.number().int(),
});
export type ListGraphsReply = z.infer<typeof ListGraphsReplySchema>;

/** GET /v1/graphs/:id/events */
export const GraphEventsQuerySchema = z.strictObject({
  fromSeq: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1_000),
});
export type GraphEventsQuery = z.infer<typeof GraphEventsQuerySchema>;

export const TrailEventSchema = z.object({
  seq: z.number().int(),
  subject: z.string(),
  type: z.string(),
  at: z.string(),
  taskId: z.string().optional(),
  actor: z.string().optional(),
  data: z.unknown(),
});
export type TrailEvent = z.infer<typeof TrailEventSchema>;

export const GraphEventsReplySchema = z.object({ events: z.array(TrailEventSchema) });
export type GraphEventsReply = z.infer<typeof GraphEventsReplySchema>;

/** Reads accept `minSeq`: wait (up to 5 s) until the local read model has applied it. */
export const MinSeqQuerySchema = z.strictObject({ minSeq: z.coerce.number().int().min(0).optional() });

/** POST /v1/agents */
export const RegisterAgentRequestSchema = z.strictObject({
  agentId: AgentIdSchema,
  role: z.enum(['admin', 'worker']),
});
export type RegisterAgentRequest = z.infer<typeof RegisterAgentRequestSchema>;
export const RegisterAgentReplySchema = z.object({
  agentId: AgentIdSchema,
  role: z.enum(['admin', 'worker']),
  /** Shown once; the server keeps only its SHA-256. */
  token: z.string(),
  /** The agent's own NATS user (`am-agent-<agentId>`); its inbox prefix is `_INBOX.<natsUser>`. */
  natsUser: z.string(),
  /** Shown once; the server keeps only its bcrypt hash. */
  natsPassword: z.string(),
});
export type RegisterAgentReply = z.infer<typeof RegisterAgentReplySchema>;

export const AgentViewSchema = z.object({
  agentId: z.string(),
  role: z.enum(['admin', 'worker']),
  status: z.enum(['active', 'revoked']),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
  /** The agent's NATS user; null for an agent registered before NATS users (rotate its credentials). */
  natsUser: z.string().nullable(),
});
export type AgentView = z.infer<typeof AgentViewSchema>;
export const ListAgentsReplySchema = z.object({ agents: z.array(AgentViewSchema) });
export type ListAgentsReply = z.infer<typeof ListAgentsReplySchema>;

/** GET /healthz: the process is up (no auth). */
export const HealthReplySchema = z.object({ ok: z.literal(true) });

/** GET /readyz without credentials (probes): the verdict alone. */
export const ReadinessVerdictSchema = z.object({ ready: z.boolean() });

/** GET /readyz with a token or a dashboard session: the verdict with the figures it was made on. */
export const ReadinessSnapshotSchema = z.object({
  ready: z.boolean(),
  reason: z
    .enum(['catching_up', 'nats_unreachable', 'feed_stalled', 'lagging', 'projector_failed', 'stopping'])
    .nullable(),
  /** One line for operators. */
  detail: z.string(),
  /** When this verdict began. */
  since: z.iso.datetime(),
  nats: z.enum(['connected', 'unavailable']),
  projector: z.enum(['running', 'stopped', 'failed']),
  appliedSeq: z.number().int(),
  deliveredSeq: z.number().int(),
  /** The highest stream sequence this node knows of. */
  streamSeq: z.number().int(),
  /** Events known to be in the stream and not applied here. */
  lag: z.number().int(),
  /** How long the oldest of them has been known (ms). */
  lagMs: z.number(),
  /** The sequence this node must apply before it is ready again; null when none. */
  catchUpTo: z.number().int().nullable(),
});
export type ReadinessSnapshotReply = z.infer<typeof ReadinessSnapshotSchema>;

export const TaskIdParamSchema = z.object({ taskId: AnyTaskIdSchema });
export const GraphIdParamSchema = z.object({ id: GraphIdSchema });
export const AgentIdParamSchema = z.object({ id: AgentIdSchema });
