import { z } from 'zod';

/** Task ids become NATS subject tokens, so they are restricted to a safe alphabet. */
export const TASK_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** The reserved id of every graph's synthesis task (ids starting with `_` are reserved). */
export const SYNTHESIS_TASK_ID = '_synthesis';
/** Agent ids are subject tokens too (`am.evt._sys.agent.<agentId>`). */
export const AGENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const TaskIdSchema = z
  .string()
  .regex(TASK_ID_PATTERN, 'a task id is 1-64 characters of A-Z a-z 0-9 _ -, not starting with _ or -');
/** A task id as stored: user ids plus the reserved synthesis id. */
export const AnyTaskIdSchema = z.union([TaskIdSchema, z.literal(SYNTHESIS_TASK_ID)]);
export const GraphIdSchema = z.uuid();
export const AgentIdSchema = z
  .string()
  .regex(AGENT_ID_PATTERN, 'an agent id is 1-64 characters of A-Z a-z 0-9 _ -, not starting with _ or -');

export type TaskId = z.infer<typeof TaskIdSchema>;
export type GraphId = z.infer<typeof GraphIdSchema>;
export type AgentId = z.infer<typeof AgentIdSchema>;
