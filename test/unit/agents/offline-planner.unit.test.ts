import { describe, expect, it } from 'vitest';
import { offlinePlan } from '../../../src/agents/offline/planner.ts';
import { createAgents } from '../../../src/agents/providers.ts';
import { PlanSchema, TASK_ID_PATTERN, validatePlan } from '../../../src/protocol/index.ts';

const GOALS = [
  'Write a market analysis of electric bicycles in Europe',
  'Plan a three-day trip to Lisbon on a budget',
  'Compare PostgreSQL and SQLite for an embedded analytics product',
  'Estimate the cost: 12 * (3 + 4) - 5 thousand euros',
  'x',
  'Summarise the history of the printing press',
  'Design a curriculum for learning TypeScript in eight weeks',
];

describe('offlinePlan', () => {
  describe.each(GOALS)('for the goal %j', (goal) => {
    const tasks = offlinePlan(goal);

    it('returns a plan that passes the protocol schema and validatePlan', () => {
      expect(PlanSchema.safeParse({ tasks }).success).toBe(true);
      expect(validatePlan(tasks)).toEqual([]);
      for (const task of tasks) expect(task.id).toMatch(TASK_ID_PATTERN);
    });

    it('has 4 to 6 tasks: parallel research, then analyze, then recommend', () => {
      expect(tasks.length).toBeGreaterThanOrEqual(4);
      expect(tasks.length).toBeLessThanOrEqual(6);
      const research = tasks.filter((task) => task.id.startsWith('research-'));
      expect(research.length).toBe(tasks.length - 2);
      for (const task of research) expect(task.dependsOn).toBeUndefined();
      expect(tasks.find((t) => t.id === 'analyze')?.dependsOn).toEqual(research.map((t) => t.id));
      expect(tasks.find((t) => t.id === 'recommend')?.dependsOn).toEqual(['analyze']);
    });

    it('is deterministic', () => {
      expect(offlinePlan(goal)).toEqual(tasks);
    });
  });

  it('gives different goals different plans', () => {
    const sizes = new Set(GOALS.map((goal) => offlinePlan(goal).length));
    expect(sizes.size).toBeGreaterThan(1);
  });

  describe('when the goal carries a marker', () => {
    it.each(['[[BAD]]', '[[BAD-ONCE]]'])('puts %s in research-1 only', (marker) => {
      const tasks = offlinePlan(`Research solar panels ${marker}`);
      expect(tasks.filter((task) => task.instructions.includes(marker)).map((t) => t.id)).toEqual([
        'research-1',
      ]);
      expect(tasks.some((task) => task.title.includes(marker))).toBe(false);
    });
  });

  it('is what the offline provider plans, with model offline', async () => {
    const agents = createAgents({ provider: 'offline' });
    const outcome = await agents.plan(GOALS[0]!);
    expect(outcome.tasks).toEqual(offlinePlan(GOALS[0]!));
    expect(outcome.model).toBe('offline');
  });
});
