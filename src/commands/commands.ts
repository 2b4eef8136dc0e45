import { z } from 'zod';
import { CancelGraphSchema } from './cancel-graph.ts';
import { ClaimTaskSchema } from './claim-task.ts';
import { CompleteCycleSchema } from './complete-cycle.ts';
import { ExpireLeaseSchema } from './expire-lease.ts';
import { ExtendLeaseSchema } from './extend-lease.ts';
import { FailGraphSchema } from './fail-graph.ts';
import { FailPlanningSchema } from './fail-planning.ts';
import { PlanTaskSchema } from './plan-task.ts';
import { RecordAuditSchema } from './record-audit.ts';
import { RecordPlanSchema } from './record-plan.ts';
import { RegisterAgentSchema } from './register-agent.ts';
import { ReleaseTaskSchema } from './release-task.ts';
import { ReportProgressSchema } from './report-progress.ts';
import { RetryGraphSchema } from './retry-graph.ts';
import { RevokeAgentSchema } from './revoke-agent.ts';
import { RotateAgentSchema } from './rotate-agent.ts';
import { StartAuditSchema } from './start-audit.ts';
import { StartPlanningSchema } from './start-planning.ts';
import { SubmitResultSchema } from './submit-result.ts';
import { SucceedGraphSchema } from './succeed-graph.ts';

/** Every command, discriminated on `type` (the type name, imperative). */
export const CommandSchema = z.discriminatedUnion('type', [
  PlanTaskSchema,
  ClaimTaskSchema,
  ExtendLeaseSchema,
  ReportProgressSchema,
  ReleaseTaskSchema,
  SubmitResultSchema,
  CancelGraphSchema,
  RetryGraphSchema,
  RegisterAgentSchema,
  RevokeAgentSchema,
  RotateAgentSchema,
  CompleteCycleSchema,
  ExpireLeaseSchema,
  StartPlanningSchema,
  RecordPlanSchema,
  FailPlanningSchema,
  StartAuditSchema,
  RecordAuditSchema,
  SucceedGraphSchema,
  FailGraphSchema,
]);
export type Command = z.infer<typeof CommandSchema>;
export type CommandType = Command['type'];
