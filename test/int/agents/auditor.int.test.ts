import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditInput } from '../../../src/agents/auditor.ts';
import { createAgents } from '../../../src/agents/providers.ts';
import { AppError } from '../../../src/errors.ts';
import { AuditReportSchema } from '../../../src/protocol/index.ts';
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

const llmAgents = () =>
  createAgents({
    provider: 'openai',
    llm: { baseURL: server.baseURL, models: { auditor: 'auditor-model' }, backoffBaseMs: 5 },
  });

/** A known bad result: `budget` ignores its instructions and carries the bad marker. */
const knownBad: AuditInput = {
  goal: 'Plan the team offsite',
  cycle: 1,
  tasks: [
    {
      id: 'venues',
      title: 'Shortlist venues',
      instructions: 'Shortlist three venues near Lisbon with prices.',
      dependsOn: [],
      output: 'Three venues near Lisbon: Quinta A (2k), Hotel B (3k), Casa C (4k).',
    },
    {
      id: 'budget',
      title: 'Estimate the budget',
      instructions: 'Estimate the total budget from the venue prices.',
      dependsOn: ['venues'],
      output: 'Here is a poem about the sea. [[BAD]]',
    },
  ],
};

const failedReport = (taskId: string) => ({
  passed: false,
  score: 0.3,
  summary: 'The budget task ignores its instructions.',
  findings: ['budget: the output is a poem, not a budget'],
  rework_suggestions: [{ taskId, problem: 'The output is a poem.', suggestion: 'Sum the venue prices.' }],
});

describe('runAudit', () => {
  describe('with the offline model', () => {
    describe('when a task output carries the bad marker', () => {
      it('names that task in rework_suggestions', async () => {
        const report = await createAgents({ provider: 'offline' }).runAudit(knownBad);
        expect(AuditReportSchema.safeParse(report).success).toBe(true);
        expect(report.passed).toBe(false);
        expect(report.model).toBe('offline');
        expect(report.rework_suggestions.map((s) => s.taskId)).toEqual(['budget']);
        expect(report.rework_suggestions[0]!.problem).toContain('the output carries the known-bad marker');
        expect(report.rework_suggestions[0]!.problem).toContain('ignores its instructions');
      });
    });
  });

  describe('through an OpenAI-compatible endpoint', () => {
    describe('when the model flags the bad task', () => {
      it('returns an AuditReport whose rework_suggestions name it', async () => {
        server.enqueue(jsonReply(failedReport('budget'), { prompt_tokens: 120, completion_tokens: 30 }));
        const report = await llmAgents().runAudit(knownBad);
        expect(report).toEqual({
          ...failedReport('budget'),
          model: 'auditor-model',
          promptVersion: expect.any(String),
          usage: { promptTokens: 120, completionTokens: 30, totalTokens: 150 },
        });
        const body = server.requests[0]!.body!;
        expect(body.model).toBe('auditor-model');
        expect(body.response_format).toMatchObject({
          type: 'json_schema',
          json_schema: { name: 'audit_report', strict: true },
        });
        expect(body.messages[0]!.content).toContain('strict, critical auditor');
        expect(body.messages[1]!.content).toContain('Valid task ids: venues, budget');
        expect(body.messages[1]!.content).toContain('Here is a poem about the sea. [[BAD]]');
      });
    });

    describe('when a suggestion names a task id that does not exist', () => {
      it('retries, telling the model which ids are valid', async () => {
        server.enqueue(jsonReply(failedReport('budget-task')), jsonReply(failedReport('budget')));
        const report = await llmAgents().runAudit(knownBad);
        expect(report.rework_suggestions[0]!.taskId).toBe('budget');
        expect(server.requests).toHaveLength(2);
        expect(server.requests[1]!.body!.messages.at(-1)!.content).toContain(
          'rework_suggestions name unknown task ids: budget-task. Valid task ids are: venues, budget',
        );
      });
    });

    describe('when a failed report has no suggestion', () => {
      it('retries, asking for at least one', async () => {
        server.enqueue(
          jsonReply({ ...failedReport('budget'), rework_suggestions: [] }),
          jsonReply(failedReport('budget')),
        );
        await llmAgents().runAudit(knownBad);
        expect(server.requests[1]!.body!.messages.at(-1)!.content).toContain(
          'passed is false but rework_suggestions is empty',
        );
      });
    });

    describe('when the model keeps naming unknown tasks', () => {
      it('fails with AM_ERR_LLM_INVALID_OUTPUT after the bounded calls', async () => {
        server.setFallback(jsonReply(failedReport('nope')));
        const error = await llmAgents()
          .runAudit(knownBad)
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(AppError);
        expect((error as AppError).code).toBe('AM_ERR_LLM_INVALID_OUTPUT');
        expect(server.requests).toHaveLength(3);
      });
    });
  });
});
