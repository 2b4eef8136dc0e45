import { type Context, context as otelContext, type Span, trace } from '@opentelemetry/api';
import { isAppError } from '../errors.ts';
import {
  type ClaimContext,
  type ClaimedTask,
  LIMITS,
  type Result,
  type Step,
  type TaskError,
  truncate,
  type Usage,
} from '../protocol/index.ts';
import { abortedError, addUsage, throwIfAborted, ZERO_USAGE } from './llm-client.ts';
import type { StepDecision } from './llm-schemas.ts';
import type { SynthesisInput } from './synthesize.ts';
import type { ToolDescriptor, ToolRegistry } from './tools/registry.ts';

/** What a step decider sees: the task, its context and every step so far. */
export interface ReactState {
  task: ClaimedTask;
  context: ClaimContext;
  history: readonly Step[];
  tools: readonly ToolDescriptor[];
}

/** Chooses the next Thought → Action: an LLM, the offline rules, or a script in tests. */
export interface StepDecider {
  readonly model: string;
  readonly promptVersion: string;
  decide(state: ReactState, signal?: AbortSignal): Promise<{ decision: StepDecision; usage: Usage }>;
}

export type ExecuteTaskOutcome =
  | { status: 'completed'; result: Result }
  | { status: 'failed'; error: TaskError; history: Step[] };

export interface ExecuteTaskDeps {
  decider: StepDecider;
  tools: ToolRegistry;
  /** Runs a task of kind `synthesis`. Required for those tasks. */
  synthesize?: (input: SynthesisInput, options: { signal?: AbortSignal }) => Promise<Result>;
  /** Steps before the task fails with its history kept. Default 8 (at most LIMITS.maxStepsPerResult). */
  maxSteps?: number;
  /** Called with each step as soon as it is recorded (progress streaming); its errors are ignored. */
  onStep?: (step: Step, index: number) => void;
  /** Aborting makes executeTask reject with AM_ERR_LLM_ABORTED. */
  signal?: AbortSignal;
  /** Clock for step timestamps. Default Date.now. */
  now?: () => number;
}

export const DEFAULT_MAX_STEPS = 8;

/**
 * The ReAct loop (the seed's execute_task): Thought → Action → Observation until a final answer or
 * `maxSteps`. A failed model call or running out of steps is a `failed` outcome that keeps the
 * history; only an abort rejects, because then nobody wants a result.
 */
export async function executeTask(
  task: ClaimedTask,
  context: ClaimContext,
  deps: ExecuteTaskDeps,
): Promise<ExecuteTaskOutcome> {
  const { signal } = deps;
  throwIfAborted(signal);
  const kind = task.kind;
  switch (kind) {
    case 'synthesis':
      return runSynthesis(task, context, deps);
    case 'work':
      return runReact(task, context, deps);
    default: {
      const unreachable: never = kind;
      return unreachable;
    }
  }
}

async function runReact(
  task: ClaimedTask,
  context: ClaimContext,
  deps: ExecuteTaskDeps,
): Promise<ExecuteTaskOutcome> {
  const { decider, tools, signal } = deps;
  const now = deps.now ?? Date.now;
  const maxSteps = Math.max(1, Math.min(deps.maxSteps ?? DEFAULT_MAX_STEPS, LIMITS.maxStepsPerResult));
  const descriptors = tools.describe();
  const history: Step[] = [];
  let usage = ZERO_USAGE;
  const record = (step: Step) => {
    history.push(step);
    try {
      deps.onStep?.(step, history.length - 1);
    } catch {
      // Progress is best effort; a failing listener must not fail the task.
    }
  };

  for (let index = 0; index < maxSteps; index++) {
    const step = stepSpan(index);
    try {
      throwIfAborted(signal);
      const started = now();
      let decision: StepDecision;
      try {
        const decided = await inStep(step, () =>
          decider.decide({ task, context, history: [...history], tools: descriptors }, signal),
        );
        decision = decided.decision;
        usage = addUsage(usage, decided.usage);
      } catch (error) {
        return failure(error, history, signal);
      }
      const thought = truncate(decision.thought, LIMITS.maxThoughtChars);
      const action = decision.action;
      switch (action.type) {
        case 'final': {
          const answer = truncate(action.answer, LIMITS.maxOutputChars);
          record({
            thought,
            action: { type: 'final', answer },
            startedAt: new Date(started).toISOString(),
            durationMs: Math.max(0, Math.round(now() - started)),
          });
          return {
            status: 'completed',
            result: {
              output: answer,
              history,
              usage,
              model: decider.model,
              promptVersion: decider.promptVersion,
            },
          };
        }
        case 'tool': {
          let observation: string;
          try {
            step?.span.setAttribute('am.tool', action.name);
            observation = await inStep(step, () =>
              tools.run(action.name, action.input, { task, context, signal }),
            );
          } catch (error) {
            // The registry turns tool failures into observations and rethrows only an abort.
            throw abortedError(signal, error);
          }
          record({
            thought,
            action,
            observation,
            startedAt: new Date(started).toISOString(),
            durationMs: Math.max(0, Math.round(now() - started)),
          });
          break;
        }
        default: {
          const unreachable: never = action;
          return unreachable;
        }
      }
    } finally {
      step?.span.end();
    }
  }
  return {
    status: 'failed',
    error: { message: `no final answer after ${maxSteps} steps`, retryable: true },
    history,
  };
}

async function runSynthesis(
  task: ClaimedTask,
  context: ClaimContext,
  deps: ExecuteTaskDeps,
): Promise<ExecuteTaskOutcome> {
  if (!deps.synthesize) {
    return {
      status: 'failed',
      error: {
        message: `task ${task.id} is a synthesis task but no synthesizer is configured`,
        retryable: false,
      },
      history: [],
    };
  }
  // Claims of the synthesis task carry every work task's output as a dependency; titles are not
  // part of the claim, so the id stands in for one.
  const input: SynthesisInput = {
    goal: context.goal,
    tasks: context.dependencies.map((dep) => ({ id: dep.taskId, title: dep.taskId, output: dep.output })),
  };
  let result: Result;
  try {
    result = await deps.synthesize(input, deps.signal ? { signal: deps.signal } : {});
  } catch (error) {
    return failure(error, [], deps.signal);
  }
  result.history.forEach((step, index) => {
    try {
      deps.onStep?.(step, index);
    } catch {
      // Best effort, as in the ReAct loop.
    }
  });
  return { status: 'completed', result };
}

/** A model failure ends the attempt (retryable: the next attempt may get a healthier model). */
function failure(error: unknown, history: Step[], signal: AbortSignal | undefined): ExecuteTaskOutcome {
  if (isAppError(error) && error.code === 'AM_ERR_LLM_ABORTED') throw error;
  if (signal?.aborted) throw abortedError(signal, error);
  if (isAppError(error)) {
    return {
      status: 'failed',
      error: {
        message: truncate(error.message, LIMITS.maxErrorMessageChars),
        retryable: true,
        code: error.code,
      },
      history,
    };
  }
  throw error;
}

/** One ReAct step as the span `am.agent.step`, inside the worker's task span; undefined when untraced. */
function stepSpan(index: number): { span: Span; ctx: Context } | undefined {
  if (trace.getActiveSpan() === undefined) return undefined;
  const span = trace
    .getTracer('agentmanager-agent')
    .startSpan('am.agent.step', { attributes: { 'am.step_index': index } });
  return { span, ctx: trace.setSpan(otelContext.active(), span) };
}

function inStep<T>(step: { ctx: Context } | undefined, fn: () => Promise<T>): Promise<T> {
  return step === undefined ? fn() : otelContext.with(step.ctx, fn);
}
