import { z } from 'zod';
import { LIMITS, ResultSchema, StepSchema, TaskErrorSchema } from '../protocol/index.ts';
import { eventSchema } from './envelope.ts';

/** The claim token is the stream sequence of the TaskClaimed event, as a decimal string. */
export const ClaimTokenSchema = z.string().regex(/^[1-9][0-9]{0,19}$/, 'a claim token is a decimal sequence');

/** Subject `<prefix>.<graphId>.task.<taskId>`. */
export const TaskClaimed = eventSchema(
  'TaskClaimed',
  1,
  z.object({
    agentId: z.string(),
    requestId: z.string().max(LIMITS.maxRequestIdChars),
    /** 1-based attempt number within the cycle. */
    attempt: z.number().int().min(1),
    cycle: z.number().int().min(1),
    leaseUntil: z.number().int(),
  }),
);

export const TaskLeaseExtended = eventSchema(
  'TaskLeaseExtended',
  1,
  z.object({ claimToken: ClaimTokenSchema, leaseUntil: z.number().int() }),
);

/** Given back by its holder: READY again at once, no attempt used. */
export const TaskReleased = eventSchema(
  'TaskReleased',
  1,
  z.object({ claimToken: ClaimTokenSchema, reason: z.string().max(LIMITS.maxErrorMessageChars).nullable() }),
);

export const TaskCompleted = eventSchema(
  'TaskCompleted',
  1,
  z.object({ claimToken: ClaimTokenSchema, result: ResultSchema }),
);

/**
 * v2: `error` became `{ message, retryable, code? }` (v1 stored a plain string; see upcasters.ts).
 * The task is READY again from `retryAt` (backoff).
 */
export const TaskAttemptFailed = eventSchema(
  'TaskAttemptFailed',
  2,
  z.object({
    claimToken: ClaimTokenSchema,
    error: TaskErrorSchema,
    history: z.array(StepSchema).max(LIMITS.maxStepsPerResult),
    retryAt: z.number().int(),
  }),
);

/** The holder's lease ran out (or its attempt ran past `timeoutMs`): READY again from `retryAt`. */
export const TaskLeaseExpired = eventSchema(
  'TaskLeaseExpired',
  1,
  z.object({
    claimToken: ClaimTokenSchema,
    reason: z.enum(['lease_expired', 'timeout']),
    retryAt: z.number().int(),
  }),
);

/**
 * The task will not be tried again in this cycle: attempts exhausted or a non-retryable failure.
 * v2: `decidedBy` says who failed it — its holder (a result it submitted, which it may repeat) or the
 * manager (the last lease ran out; the holder's late result must meet a stale claim). v1 left that to
 * the actor, `system:…` meaning the manager (see upcasters.ts).
 */
export const TaskFailed = eventSchema(
  'TaskFailed',
  2,
  z.object({
    claimToken: ClaimTokenSchema.nullable(),
    reason: z.enum(['attempts_exhausted', 'not_retryable']),
    decidedBy: z.enum(['holder', 'manager']),
    error: TaskErrorSchema,
    history: z.array(StepSchema).max(LIMITS.maxStepsPerResult),
  }),
);

export const TaskCancelled = eventSchema(
  'TaskCancelled',
  1,
  z.object({ reason: z.string().max(LIMITS.maxErrorMessageChars).nullable() }),
);

/** Subject `<prefix>.<graphId>.task.<taskId>.progress`: never bumps the task subject's sequence. */
export const TaskProgressed = eventSchema(
  'TaskProgressed',
  1,
  z.object({ claimToken: ClaimTokenSchema, index: z.number().int().nonnegative(), step: StepSchema }),
);

export const TASK_EVENT_SCHEMAS = [
  TaskClaimed,
  TaskLeaseExtended,
  TaskReleased,
  TaskCompleted,
  TaskAttemptFailed,
  TaskLeaseExpired,
  TaskFailed,
  TaskCancelled,
  TaskProgressed,
] as const;
