import type { TaskSpec } from '../../protocol/index.ts';
import { BAD_MARKER, BAD_ONCE_MARKER, excerpt, fnv1a, keywords, removeMarkers } from './text.ts';

const ASPECTS = ['background', 'key facts', 'options', 'risks', 'evidence', 'examples'] as const;

/**
 * The offline planner (rules in docs/offline-provider.md). A pure function of the goal text:
 *
 * - n = 4 + (FNV-1a(goal) mod 3) tasks, so 4 to 6;
 * - n - 2 parallel research tasks `research-1…`, each on an aspect taken in order from
 *   background, key facts, options, risks, evidence, examples starting at FNV-1a(goal) mod 6;
 * - `analyze` depends on every research task; `recommend` depends on `analyze`;
 * - every task's instructions quote the goal (markers removed), so an arithmetic expression in the
 *   goal reaches the workers' calculator;
 * - a `[[BAD]]` or `[[BAD-ONCE]]` marker in the goal is appended to research-1's instructions only,
 *   so a demo makes exactly one task bad.
 */
export function offlinePlan(goal: string): TaskSpec[] {
  const hash = fnv1a(goal);
  const count = 4 + (hash % 3);
  const research = count - 2;
  const clean = removeMarkers(goal);
  const topic = keywords(clean).slice(0, 4).join(' ') || 'the goal';
  const quoted = excerpt(clean, 500);
  const markers = [BAD_MARKER, BAD_ONCE_MARKER].filter((marker) => goal.includes(marker));

  const tasks: TaskSpec[] = [];
  for (let i = 0; i < research; i++) {
    const aspect = ASPECTS[(hash + i) % ASPECTS.length]!;
    const marker = i === 0 && markers.length > 0 ? ` ${markers.join(' ')}` : '';
    tasks.push({
      id: `research-${i + 1}`,
      title: excerpt(`Research ${aspect} of ${topic}`, 200),
      instructions: `Investigate the ${aspect} relevant to the goal "${quoted}". Report concise findings.${marker}`,
    });
  }
  const researchIds = tasks.map((task) => task.id);
  tasks.push({
    id: 'analyze',
    title: excerpt(`Analyze findings on ${topic}`, 200),
    instructions: `Combine the findings of ${researchIds.join(', ')} into an analysis for the goal "${quoted}".`,
    dependsOn: researchIds,
  });
  tasks.push({
    id: 'recommend',
    title: excerpt(`Recommend next steps for ${topic}`, 200),
    instructions: `From the analysis, recommend concrete next steps for the goal "${quoted}".`,
    dependsOn: ['analyze'],
  });
  return tasks;
}
