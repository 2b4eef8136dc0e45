import type { Agents } from '../agents/index.ts';
import type { ManagerAgents } from './manager-agents.ts';

/** The manager's view of src/agents (openai or offline): the planner and the auditor, abortable. */
export function managerAgents(agents: Pick<Agents, 'plan' | 'runAudit'>): ManagerAgents {
  return {
    async plan(goal, signal) {
      const outcome = await agents.plan(goal, { signal });
      return { tasks: outcome.tasks, planner: outcome.model, usage: outcome.usage };
    },
    runAudit: (input, signal) => agents.runAudit(input, { signal }),
  };
}
