import type { Step } from '../../protocol/index.ts';
import { ZERO_USAGE } from '../llm-client.ts';
import type { StepDecision } from '../llm-schemas.ts';
import type { ReactState, StepDecider } from '../react-loop.ts';
import {
  BAD_MARKER,
  BAD_ONCE_MARKER,
  excerpt,
  findExpression,
  OFFLINE_MODEL,
  OFFLINE_RULES_VERSION,
  removeMarkers,
} from './text.ts';

/**
 * The offline ReAct policy (rules in docs/offline-provider.md):
 *
 * 1. If the instructions hold an arithmetic expression (see findExpression), the calculator is
 *    offered, and no calculator step was taken yet: call the calculator on it.
 * 2. Otherwise give the final answer (offlineAnswer).
 */
export const offlineStepDecider: StepDecider = {
  model: OFFLINE_MODEL,
  promptVersion: OFFLINE_RULES_VERSION,
  async decide(state) {
    return { decision: decideOffline(state), usage: ZERO_USAGE };
  },
};

export function decideOffline(state: ReactState): StepDecision {
  const expression = findExpression(state.task.instructions);
  const calculated = state.history.find(isCalculatorStep);
  const hasCalculator = state.tools.some((tool) => tool.name === 'calculator');
  if (expression !== null && hasCalculator && calculated === undefined) {
    return {
      thought: `The instructions contain the expression ${expression}; I compute it with the calculator instead of guessing.`,
      action: { type: 'tool', name: 'calculator', input: { expression } },
    };
  }
  return {
    thought: calculated
      ? `The calculator returned ${calculated.observation ?? '(nothing)'}; I can answer now.`
      : 'Nothing needs computing; I answer from the instructions.',
    action: { type: 'final', answer: offlineAnswer(state, calculated) },
  };
}

function isCalculatorStep(step: Step): boolean {
  return step.action.type === 'tool' && step.action.name === 'calculator';
}

/**
 * A short deterministic answer: the title, an excerpt of the instructions, the calculation, the
 * dependencies used and the auditor's notes when reworked. Markers: `[[BAD]]` in the instructions
 * is always repeated; `[[BAD-ONCE]]` is repeated only when the task is not being reworked.
 */
export function offlineAnswer(state: ReactState, calculated: Step | undefined): string {
  const { task, context } = state;
  const lines = [
    `${removeMarkers(task.title).trim()} (offline result for task ${task.id}).`,
    `Addressed the instructions: ${excerpt(removeMarkers(task.instructions), 300)}`,
  ];
  if (calculated && calculated.action.type === 'tool') {
    const input = calculated.action.input as { expression?: unknown };
    lines.push(`Computed ${String(input.expression)} = ${calculated.observation ?? '(no result)'}.`);
  }
  if (context.dependencies.length > 0) {
    const deps = context.dependencies.map((dep) => `${dep.taskId} (${dep.output.length} characters)`);
    lines.push(`Builds on the outputs of ${deps.join(', ')}.`);
  }
  if (context.rework) {
    lines.push(
      `Reworked in cycle ${task.cycle} to address the auditor: ${excerpt(removeMarkers(context.rework.notes), 300)}`,
    );
  }
  if (task.instructions.includes(BAD_MARKER)) lines.push(`Known bad output ${BAD_MARKER}`);
  if (task.instructions.includes(BAD_ONCE_MARKER) && !context.rework)
    lines.push(`Bad until reworked ${BAD_ONCE_MARKER}`);
  return lines.join('\n');
}
