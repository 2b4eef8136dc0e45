import { z } from 'zod';
import { AuditReportSchema } from './audit-report.ts';
import { GraphOptionsSchema } from './graph-options.ts';
import { TaskErrorSchema, UsageSchema } from './result.ts';
import { GraphFailureReasonSchema, GraphStatusSchema, TaskKindSchema, TaskStatusSchema } from './status.ts';
import { StepSchema } from './step.ts';

/** The latest accepted result of a task (completed or failed attempt). */
export const TaskResultViewSchema = z.object({
  seq: z.number().int(),
  cycle: z.number().int(),
  attempt: z.number().int(),
  status: z.enum(['completed', 'failed']),
  agentId: z.string(),
  output: z.string().nullable(),
  history: z.array(StepSchema),
  usage: UsageSchema.nullable(),
  model: z.string().nullable(),
  error: TaskErrorSchema.nullable(),
  at: z.string(),
});
export type TaskResultView = z.infer<typeof TaskResultViewSchema>;

export const TaskViewSchema = z.object({
  id: z.string(),
  kind: TaskKindSchema,
  title: z.string(),
  instructions: z.string(),
  dependsOn: z.array(z.string()),
  capability: z.string().nullable(),
  status: TaskStatusSchema,
  /** Attempts used (failed or expired) in the current cycle. */
  attempts: z.number().int(),
  cycle: z.number().int(),
  completedCycle: z.number().int().nullable(),
  assignee: z.string().nullable(),
  claimToken: z.string().nullable(),
  leaseUntil: z.string().nullable(),
  lastSeq: z.number().int(),
  /** The latest result of the latest cycle, or null. */
  result: TaskResultViewSchema.nullable(),
});
export type TaskView = z.infer<typeof TaskViewSchema>;

export const AuditViewSchema = z.object({
  cycle: z.number().int(),
  seq: z.number().int(),
  passed: z.boolean(),
  report: AuditReportSchema,
  rework: z.array(z.string()),
  at: z.string(),
});
export type AuditView = z.infer<typeof AuditViewSchema>;

export const GraphViewSchema = z.object({
  id: z.uuid(),
  status: GraphStatusSchema,
  goal: z.string(),
  cycle: z.number().int(),
  options: GraphOptionsSchema,
  submittedBy: z.string(),
  failure: z.object({ reason: GraphFailureReasonSchema, message: z.string() }).nullable(),
  output: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** The graph subject's last stream sequence. */
  lastSeq: z.number().int(),
});
export type GraphView = z.infer<typeof GraphViewSchema>;

/** The whole TaskGraph as the read model holds it (GET /v1/graphs/:id). */
export const TaskGraphSchema = z.object({
  graph: GraphViewSchema,
  tasks: z.array(TaskViewSchema),
  audits: z.array(AuditViewSchema),
});
export type TaskGraph = z.infer<typeof TaskGraphSchema>;
