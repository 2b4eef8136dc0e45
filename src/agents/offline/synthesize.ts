import type { Result } from '../../protocol/index.ts';
import { LIMITS, truncate } from '../../protocol/index.ts';
import { ZERO_USAGE } from '../llm-client.ts';
import type { SynthesisInput } from '../synthesize.ts';
import { excerpt, OFFLINE_MODEL, OFFLINE_RULES_VERSION } from './text.ts';

/**
 * The offline synthesis: a heading naming the goal, then one bullet per task (in input order) with
 * its title, id and its whole output (later lines indented under the bullet), the answer capped at
 * LIMITS.maxOutputChars. Whole, because a result computed at a task's end is what a reader looks for.
 * One final step, model `offline`.
 */
export function offlineSynthesize(input: SynthesisInput, now: () => number = Date.now): Result {
  const started = now();
  const bullets = input.tasks.map((task) => {
    const title = task.title === task.id ? task.id : `${task.title} (${task.id})`;
    return `- ${title}: ${task.output.trim().replace(/\n+/g, '\n  ')}`;
  });
  const answer = truncate(
    [`Final answer (offline synthesis) for: ${excerpt(input.goal, 500)}`, '', ...bullets].join('\n'),
    LIMITS.maxOutputChars,
  );
  return {
    output: answer,
    history: [
      {
        thought: `Combine the ${input.tasks.length} audited task outputs in order.`,
        action: { type: 'final', answer },
        startedAt: new Date(started).toISOString(),
        durationMs: Math.max(0, Math.round(now() - started)),
      },
    ],
    usage: ZERO_USAGE,
    model: OFFLINE_MODEL,
    promptVersion: OFFLINE_RULES_VERSION,
  };
}
