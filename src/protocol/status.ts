import { z } from 'zod';

export const GraphStatusSchema = z.enum([
  'SUBMITTED',
  'PLANNING',
  'RUNNING',
  'AUDITING',
  'SYNTHESIZING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
]);
export type GraphStatus = z.infer<typeof GraphStatusSchema>;

export const TaskStatusSchema = z.enum(['PENDING', 'READY', 'CLAIMED', 'COMPLETED', 'FAILED', 'CANCELLED']);
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

/** `work` tasks count toward GraphCompleted; the one `synthesis` task runs after a passed audit. */
export const TaskKindSchema = z.enum(['work', 'synthesis']);
export type TaskKind = z.infer<typeof TaskKindSchema>;

export const TERMINAL_GRAPH_STATUSES: ReadonlySet<GraphStatus> = new Set([
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
]);

/** Why a graph failed. Stable strings: clients branch on them. */
export const GraphFailureReasonSchema = z.enum([
  'planning_failed',
  'task_failed',
  'audit_not_passed',
  'audit_failed',
  'rework_invalid',
  'synthesis_failed',
]);
export type GraphFailureReason = z.infer<typeof GraphFailureReasonSchema>;
