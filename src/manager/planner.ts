import { checkPlan, decideFailPlanning, decideRecordPlan, decideStartPlanning } from '../commands/index.ts';
import { AppError, isAppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { LIMITS, PlanSchema, type TaskSpec } from '../protocol/index.ts';
import type { ManagerAgents } from './manager-agents.ts';
import type { ManagerRuntime } from './manager-runtime.ts';
import { callUnderMarker, type MarkerSettings } from './marker-call.ts';
import type { GraphReconciler } from './reconciler.ts';

/**
 * Plans goal graphs: a SUBMITTED graph (or a PLANNING one whose marker ran out: its manager is gone) →
 * PlanningStarted → `agents.plan(goal)` → GraphPlanned; a failed or invalid plan is retried under the
 * next marker, and when the markers are spent GraphPlanningFailed carries the last error's code.
 * Explicit graphs were planned on submission and never get here.
 */
export class Planner implements GraphReconciler {
  readonly name = 'planner';
  constructor(
    private readonly rt: ManagerRuntime,
    private readonly agents: ManagerAgents,
    private readonly settings: MarkerSettings,
  ) {}

  candidates(): string[] {
    return this.rt.ctx.readModel.graphs.unplannedIds();
  }

  reconcile(graph: GraphState): void {
    const key = `plan:${graph.id}`;
    if (graph.explicit || (graph.status !== 'SUBMITTED' && graph.status !== 'PLANNING')) {
      if (this.rt.isRunning(key)) this.rt.cancel(key, `graph ${graph.id} is ${graph.status}`);
      return;
    }
    if (this.rt.isRunning(key)) return;
    // Held by another manager (or by this process before a restart): wait for it to finish or lapse.
    if (graph.status === 'PLANNING' && graph.planning && graph.planning.leaseUntil > this.rt.now()) return;
    const { id: graphId, goal } = graph;
    this.rt.run(key, graphId, (signal) => this.plan(graphId, goal, signal));
  }

  private async plan(graphId: string, goal: string, signal: AbortSignal): Promise<void> {
    const { rt, settings } = this;
    const outcome = await callUnderMarker({
      rt,
      graphId,
      what: 'planning',
      settings,
      signal,
      startMarker: (held) =>
        rt.command(graphId, (state, metadata) =>
          decideStartPlanning(
            {
              type: 'StartPlanning',
              data: {
                graphId,
                markerMs: settings.markerMs,
                maxAttempts: settings.maxAttempts,
                ...(held === undefined ? {} : { held }),
              },
              metadata,
            },
            state,
          ),
        ),
      call: async (callSignal) => {
        const plan = await this.agents.plan(goal, callSignal);
        return {
          tasks: validPlan(plan.tasks),
          planner: plan.planner.slice(0, 200),
          ...(plan.usage ? { usage: plan.usage } : {}),
        };
      },
    });
    switch (outcome.kind) {
      case 'lost':
        return;
      case 'done': {
        const { tasks, planner, usage } = outcome.value;
        const recorded = await rt.command(graphId, (state, metadata) =>
          decideRecordPlan(
            { type: 'RecordPlan', data: { graphId, tasks, planner, ...(usage ? { usage } : {}) }, metadata },
            state,
          ),
        );
        if (isAppError(recorded)) rt.refused(recorded, { graphId }, 'RecordPlan');
        else rt.log.info({ graphId, tasks: tasks.length, planner, seq: recorded.seq }, 'graph planned');
        return;
      }
      case 'exhausted': {
        const { lastError, attempts } = outcome;
        const code = lastError?.code ?? 'AM_ERR_LLM_UNAVAILABLE';
        const message = (
          lastError?.message ?? `planning was started ${attempts} times and never finished`
        ).slice(0, LIMITS.maxErrorMessageChars);
        const failed = await rt.command(graphId, (state, metadata) =>
          decideFailPlanning({ type: 'FailPlanning', data: { graphId, code, message }, metadata }, state),
        );
        if (isAppError(failed)) rt.refused(failed, { graphId }, 'FailPlanning');
        else rt.log.warn({ graphId, code, attempts }, 'planning failed');
        return;
      }
      default: {
        const unreachable: never = outcome;
        return unreachable;
      }
    }
  }
}

/** A plan the decider will accept, or the reason it will not (a failed attempt: the model may do better). */
function validPlan(tasks: readonly TaskSpec[]): TaskSpec[] {
  const parsed = PlanSchema.safeParse({ tasks });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError(
      'AM_ERR_LLM_INVALID_OUTPUT',
      `the plan is malformed at ${issue?.path.join('.') || 'tasks'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const invalid = checkPlan(parsed.data.tasks);
  if (invalid) throw invalid;
  return parsed.data.tasks;
}
