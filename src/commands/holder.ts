import { ClaimTokenSchema } from '../events/index.ts';
import { AgentIdSchema, AnyTaskIdSchema, GraphIdSchema } from '../protocol/index.ts';

/** Fields every command of a claim's holder carries: which task, who, and the claim they present. */
export const holderFields = {
  graphId: GraphIdSchema,
  taskId: AnyTaskIdSchema,
  agentId: AgentIdSchema,
  claimToken: ClaimTokenSchema,
} as const;
