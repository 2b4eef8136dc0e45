import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAgents } from '../../../src/agents/providers.ts';
import { validatePlan } from '../../../src/protocol/index.ts';
import {
  type FakeOpenAiServer,
  jsonReply,
  startFakeOpenAiServer,
} from '../../fixtures/fake-openai-server.ts';

let server: FakeOpenAiServer;
beforeAll(async () => {
  server = await startFakeOpenAiServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

const agents = () =>
  createAgents({
    llm: { baseURL: server.baseURL, models: { planner: 'planner-model' }, backoffBaseMs: 5 },
    maxPlanTasks: 6,
  });

const t = (id: string, dependsOn: string[] = []) => ({
  id,
  title: `Task ${id}`,
  instructions: `Do ${id}.`,
  dependsOn,
});
const goodPlan = { tasks: [t('research'), t('costs'), t('report', ['research', 'costs'])] };

describe('plan', () => {
  it('returns the validated DAG with the planner model and usage', async () => {
    server.enqueue(jsonReply(goodPlan));
    const outcome = await agents().plan('Plan the offsite');
    expect(outcome.tasks).toEqual([
      { id: 'research', title: 'Task research', instructions: 'Do research.' },
      { id: 'costs', title: 'Task costs', instructions: 'Do costs.' },
      { id: 'report', title: 'Task report', instructions: 'Do report.', dependsOn: ['research', 'costs'] },
    ]);
    expect(validatePlan(outcome.tasks)).toEqual([]);
    expect(outcome.model).toBe('planner-model');
    expect(outcome.usage.totalTokens).toBe(15);
    const body = server.requests[0]!.body!;
    expect(body.model).toBe('planner-model');
    expect(body.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'plan' } });
    expect(body.messages[0]!.content).toContain('at most 6');
    expect(body.messages[1]!.content).toBe('Goal:\nPlan the offsite');
  });

  describe.each([
    [
      'cyclic',
      { tasks: [t('a', ['c']), t('b', ['a']), t('c', ['b'])] },
      'dependency cycle: a -> c -> b -> a',
    ],
    [
      'oversized',
      { tasks: Array.from({ length: 7 }, (_, i) => t(`t${i}`)) },
      'the plan has 7 tasks; at most 6 are allowed',
    ],
    [
      'badly-named',
      { tasks: [t('_synthesis'), t('two words', ['_synthesis'])] },
      'task id "_synthesis" is not allowed',
    ],
    ['dangling', { tasks: [t('a', ['ghost'])] }, 'task "a" depends on "ghost", which is not in the plan'],
  ])('when the model returns a %s plan', (_kind, badPlan, problem) => {
    it('rejects it and retries with a request that carries the problem', async () => {
      server.enqueue(jsonReply(badPlan), jsonReply(goodPlan));
      const outcome = await agents().plan('Plan the offsite');
      expect(outcome.tasks.map((task) => task.id)).toEqual(['research', 'costs', 'report']);
      expect(server.requests).toHaveLength(2);
      const messages = server.requests[1]!.body!.messages;
      expect(messages.at(-2)).toEqual({ role: 'assistant', content: JSON.stringify(badPlan) });
      expect(messages.at(-1)!.content).toContain('the plan is not a valid DAG');
      expect(messages.at(-1)!.content).toContain(problem);
    });
  });

  it('passes the abort signal through', async () => {
    server.setFallback({ ...jsonReply(goodPlan), delayMs: 300 });
    const error = await agents()
      .plan('Plan the offsite', { signal: AbortSignal.timeout(30) })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'AM_ERR_LLM_ABORTED' });
  });
});
