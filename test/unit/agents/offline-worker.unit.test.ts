import { describe, expect, it } from 'vitest';
import { offlineAudit } from '../../../src/agents/offline/auditor.ts';
import { createAgents } from '../../../src/agents/providers.ts';
import type { ClaimContext, ClaimedTask, Step } from '../../../src/protocol/index.ts';
import { ResultSchema } from '../../../src/protocol/index.ts';

const agents = createAgents({ provider: 'offline' });

function task(instructions: string, over: Partial<ClaimedTask> = {}): ClaimedTask {
  return {
    id: 'budget',
    graphId: '0b7f6c1e-3c1a-4d4f-9a51-2f4c1d2e3f40',
    title: 'Estimate the offsite budget',
    instructions,
    kind: 'work',
    attempt: 1,
    cycle: 1,
    ...over,
  };
}

const context: ClaimContext = { goal: 'Plan the team offsite', dependencies: [] };

async function run(t: ClaimedTask, ctx: ClaimContext = context) {
  const steps: Step[] = [];
  const outcome = await agents.executeTask(t, ctx, { onStep: (step) => steps.push(step) });
  if (outcome.status !== 'completed') throw new Error(`expected completed, got ${JSON.stringify(outcome)}`);
  return { result: outcome.result, steps };
}

describe('offline worker', () => {
  describe('when the instructions contain an arithmetic expression', () => {
    it('computes it with the calculator tool, then answers with the result', async () => {
      const { result, steps } = await run(task('Compute 12 * (3 + 4) - 5 and report the total.'));
      expect(result.history).toHaveLength(2);
      expect(result.history[0]).toMatchObject({
        action: { type: 'tool', name: 'calculator', input: { expression: '12 * (3 + 4) - 5' } },
        observation: '79',
      });
      expect(result.history[1]!.action).toEqual({ type: 'final', answer: result.output });
      expect(result.output).toContain('Computed 12 * (3 + 4) - 5 = 79.');
      expect(steps).toEqual(result.history);
    });
  });

  describe('when the instructions contain no expression', () => {
    it('answers in one final step that references the task', async () => {
      const { result } = await run(task('List three venues near the office.'));
      expect(result.history).toHaveLength(1);
      expect(result.history[0]!.action.type).toBe('final');
      expect(result.output).toContain('Estimate the offsite budget');
      expect(result.output).toContain('List three venues near the office.');
    });
  });

  it('returns a schema-valid Result that names the model offline', async () => {
    const { result } = await run(task('Compute 2 ^ 10.'));
    expect(ResultSchema.safeParse(result).success).toBe(true);
    expect(result.model).toBe('offline');
    expect(result.usage).toEqual({ promptTokens: 0, completionTokens: 0, totalTokens: 0 });
  });

  it('is deterministic apart from timings', async () => {
    const strip = (steps: Step[]) =>
      steps.map(({ thought, action, observation }) => ({ thought, action, observation }));
    const a = await run(task('Compute 1 + 1.'));
    const b = await run(task('Compute 1 + 1.'));
    expect(strip(a.result.history)).toEqual(strip(b.result.history));
  });

  it('mentions the dependencies it builds on', async () => {
    const { result } = await run(task('Summarise.'), {
      ...context,
      dependencies: [{ taskId: 'research-1', output: 'abc' }],
    });
    expect(result.output).toContain('Builds on the outputs of research-1 (3 characters).');
  });

  describe('markers', () => {
    it('always repeats [[BAD]] from the instructions, even when reworked', async () => {
      const first = await run(task('Do it [[BAD]]'));
      const reworked = await run(task('Do it [[BAD]]', { cycle: 2 }), {
        ...context,
        rework: { notes: 'remove the marker', previousOutput: first.result.output },
      });
      expect(first.result.output).toContain('[[BAD]]');
      expect(reworked.result.output).toContain('[[BAD]]');
    });

    it('repeats [[BAD-ONCE]] on the first run and drops it when reworked', async () => {
      const first = await run(task('Estimate the budget [[BAD-ONCE]]'));
      expect(first.result.output).toContain('[[BAD-ONCE]]');
      const notes = 'the output carries the bad-once marker [[BAD-ONCE]]';
      const reworked = await run(task('Estimate the budget [[BAD-ONCE]]', { cycle: 2 }), {
        ...context,
        rework: { notes, previousOutput: first.result.output },
      });
      expect(reworked.result.output).not.toContain('[[BAD-ONCE]]');
      expect(reworked.result.output).toContain('Reworked in cycle 2 to address the auditor');
    });
  });

  describe('with maxSteps 1 and an expression to compute', () => {
    it('fails out of steps and keeps the calculator step', async () => {
      const oneStep = createAgents({ provider: 'offline', maxSteps: 1 });
      const outcome = await oneStep.executeTask(task('Compute 6 * 7.'), context);
      expect(outcome).toMatchObject({
        status: 'failed',
        error: { message: 'no final answer after 1 steps', retryable: true },
        history: [{ action: { type: 'tool', name: 'calculator' }, observation: '42' }],
      });
    });
  });

  describe('a synthesis task', () => {
    it('is answered by the offline synthesis from the dependencies', async () => {
      const outcome = await agents.executeTask(task('', { id: '_synthesis', kind: 'synthesis' }), {
        goal: 'Plan the team offsite',
        dependencies: [
          { taskId: 'a', output: 'Venue: the lake house.' },
          { taskId: 'b', output: 'Budget: 79k.' },
        ],
      });
      expect(outcome.status).toBe('completed');
      if (outcome.status !== 'completed') return;
      expect(outcome.result.model).toBe('offline');
      expect(outcome.result.output).toContain('- a: Venue: the lake house.');
      expect(outcome.result.output).toContain('- b: Budget: 79k.');
      expect(outcome.result.history).toHaveLength(1);
    });
  });

  describe('a whole offline graph', () => {
    it('passes the offline audit when nothing is marked', async () => {
      const plan = await agents.plan('Compare heat pumps and gas boilers: 3 * 4000 + 2500');
      const tasks = [];
      for (const spec of plan.tasks) {
        const { result } = await run(task(spec.instructions, { id: spec.id, title: spec.title }));
        tasks.push({ ...spec, dependsOn: spec.dependsOn ?? [], output: result.output });
      }
      const report = offlineAudit({ goal: 'g', cycle: 1, tasks });
      expect(report).toMatchObject({ passed: true, rework_suggestions: [], model: 'offline' });
    });
  });
});
