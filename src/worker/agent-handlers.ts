import type { Agents } from '../agents/index.ts';
import type { WorkerHandlers } from './worker.ts';

/** Runs claimed tasks with the agents: the ReAct loop for work tasks, synthesis for the synthesis task. */
export function agentHandlers(agents: Agents): WorkerHandlers {
  return {
    async execute({ task, context, signal, onStep }) {
      const outcome = await agents.executeTask(task, context, { signal, onStep: (step) => onStep(step) });
      if (outcome.status === 'failed')
        return { status: 'failed', error: outcome.error, history: outcome.history };
      const { result } = outcome;
      return {
        status: 'completed',
        output: result.output,
        history: result.history,
        ...(result.usage === undefined ? {} : { usage: result.usage }),
        ...(result.model === undefined ? {} : { model: result.model }),
        ...(result.promptVersion === undefined ? {} : { promptVersion: result.promptVersion }),
      };
    },
  };
}
