import { z } from 'zod';
import {
  AuditReportSchema,
  GraphFailureReasonSchema,
  GraphOptionsSchema,
  LIMITS,
  TaskIdSchema,
  TaskSpecSchema,
  UsageSchema,
} from '../protocol/index.ts';
import { eventSchema } from './envelope.ts';

/** Subject `<prefix>.<graphId>.graph`. A graph with `tasks` is explicit: it is planned on submission. */
export const GraphSubmitted = eventSchema(
  'GraphSubmitted',
  1,
  z.object({
    goal: z.string().min(1).max(LIMITS.maxGoalChars),
    tasks: z.array(TaskSpecSchema).max(LIMITS.maxTasksPerGraph).nullable(),
    options: GraphOptionsSchema,
    idempotencyKey: z.string().max(LIMITS.maxIdempotencyKeyChars).nullable(),
  }),
);

/** A marker with a lease: this manager is planning; another may take over once `leaseUntil` passes. */
export const PlanningStarted = eventSchema(
  'PlanningStarted',
  1,
  z.object({ attempt: z.number().int().min(1), leaseUntil: z.number().int() }),
);

export const GraphPlanned = eventSchema(
  'GraphPlanned',
  1,
  z.object({
    tasks: z.array(TaskSpecSchema).min(1).max(LIMITS.maxTasksPerGraph),
    /** Who made the plan, e.g. `offline` or a model name. */
    planner: z.string().max(200),
    /** Tokens the planner's LLM calls used (zero for the offline planner); absent in older events. */
    usage: UsageSchema.optional(),
  }),
);

export const GraphPlanningFailed = eventSchema(
  'GraphPlanningFailed',
  1,
  z.object({ code: z.string().max(64), message: z.string().max(LIMITS.maxErrorMessageChars) }),
);

/** Every work task of `cycle` is COMPLETED. Appended once per cycle (msgID `complete:<graph>:<cycle>`). */
export const GraphCompleted = eventSchema('GraphCompleted', 1, z.object({ cycle: z.number().int().min(1) }));

export const AuditStarted = eventSchema(
  'AuditStarted',
  1,
  z.object({
    cycle: z.number().int().min(1),
    attempt: z.number().int().min(1),
    leaseUntil: z.number().int(),
  }),
);

export const AuditPassed = eventSchema(
  'AuditPassed',
  1,
  z.object({ cycle: z.number().int().min(1), report: AuditReportSchema }),
);

/**
 * `rework` is the whole set reset to PENDING for the next cycle: the tasks the report names plus
 * everything that transitively depends on them. Empty when no rework cycle is left (GraphFailed follows).
 */
export const AuditFailed = eventSchema(
  'AuditFailed',
  1,
  z.object({
    cycle: z.number().int().min(1),
    report: AuditReportSchema,
    rework: z.array(TaskIdSchema).max(LIMITS.maxTasksPerGraph),
  }),
);

export const GraphSucceeded = eventSchema(
  'GraphSucceeded',
  1,
  z.object({ output: z.string().max(LIMITS.maxOutputChars) }),
);

export const GraphFailed = eventSchema(
  'GraphFailed',
  1,
  z.object({
    reason: GraphFailureReasonSchema,
    message: z.string().max(LIMITS.maxErrorMessageChars),
    tasks: z.array(z.string()).max(LIMITS.maxTasksPerGraph).optional(),
  }),
);

export const GraphCancelled = eventSchema(
  'GraphCancelled',
  1,
  z.object({ reason: z.string().max(LIMITS.maxErrorMessageChars).nullable() }),
);

/** Gives the named FAILED tasks a new attempt budget and resumes the graph. */
export const GraphRetried = eventSchema(
  'GraphRetried',
  1,
  z.object({ tasks: z.array(z.string()).min(1).max(LIMITS.maxTasksPerGraph) }),
);

export const GRAPH_EVENT_SCHEMAS = [
  GraphSubmitted,
  PlanningStarted,
  GraphPlanned,
  GraphPlanningFailed,
  GraphCompleted,
  AuditStarted,
  AuditPassed,
  AuditFailed,
  GraphSucceeded,
  GraphFailed,
  GraphCancelled,
  GraphRetried,
] as const;
