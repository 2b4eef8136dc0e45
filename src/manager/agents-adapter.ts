import type { Agents } from '../agents/index.ts';
import type { LlmMetrics } from '../node/llm-metrics.ts';
import type { ManagerAgents } from './manager-agents.ts';

/**
 * The manager's view of src/agents (openai or offline): the planner and the auditor, abortable. When the
 * agents carry the metrics of their model calls (the CLI's agentsFromConfig), they are passed on, so the
 * server exposes the planner's and auditor's calls on its /metrics.
 */
export function managerAgents(
  agents: Pick<Agents, 'plan' | 'runAudit'> & { llmMetrics?: LlmMetrics },
): ManagerAgents {
  return {
    async plan(goal, signal) {
      const outcome = await agents.plan(goal, { signal });
      return { tasks: outcome.tasks, planner: outcome.model, usage: outcome.usage };
    },
    runAudit: (input, signal) => agents.runAudit(input, { signal }),
    ...(agents.llmMetrics === undefined ? {} : { llmMetrics: agents.llmMetrics }),
  };
}
