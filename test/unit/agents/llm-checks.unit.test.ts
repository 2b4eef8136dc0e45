import { describe, expect, it } from 'vitest';
import { type AuditInput, checkAuditReport } from '../../../src/agents/auditor.ts';
import { retryAfterMs } from '../../../src/agents/llm-client.ts';
import { toStepDecision } from '../../../src/agents/llm-schemas.ts';
import { checkPlan } from '../../../src/agents/planner.ts';
import { resolveProvider } from '../../../src/agents/providers.ts';
import { truncate } from '../../../src/protocol/index.ts';

describe('toStepDecision', () => {
  it('parses a tool input carried as a JSON string into the wire Step action', () => {
    expect(
      toStepDecision({
        thought: 't',
        action: { kind: 'tool', tool: 'calculator', input: '{"expression":"1+1"}', answer: null },
      }),
    ).toEqual({
      ok: true,
      value: { thought: 't', action: { type: 'tool', name: 'calculator', input: { expression: '1+1' } } },
    });
  });

  it('treats a null tool input as an empty object', () => {
    const refined = toStepDecision({
      thought: 't',
      action: { kind: 'tool', tool: 'x', input: null, answer: null },
    });
    expect(refined).toMatchObject({ ok: true, value: { action: { input: {} } } });
  });

  it.each([
    [{ kind: 'tool', tool: 'calculator', input: '{bad', answer: null }, 'action.input must be a JSON object'],
    [{ kind: 'tool', tool: null, input: '{}', answer: null }, 'action.tool is null'],
    [{ kind: 'final', tool: null, input: null, answer: null }, 'action.answer is null or empty'],
    [{ kind: 'final', tool: null, input: null, answer: '  ' }, 'action.answer is null or empty'],
  ] as const)('rejects %j with a problem for the model', (action, problem) => {
    const refined = toStepDecision({ thought: 't', action: { ...action } });
    expect(refined.ok).toBe(false);
    if (!refined.ok) expect(refined.problem).toContain(problem);
  });
});

describe('checkAuditReport', () => {
  const input: AuditInput = {
    goal: 'g',
    cycle: 1,
    tasks: [
      { id: 'a', title: 'A', instructions: '', dependsOn: [], output: 'x' },
      { id: 'b', title: 'B', instructions: '', dependsOn: ['a'], output: 'y' },
    ],
  };
  const base = { passed: false, score: 0.4, summary: 's', findings: [] };

  it('cuts an overlong list of findings instead of sending the model back for a retry', () => {
    const findings = Array.from({ length: 2_500 }, (_, i) => `finding ${i}`);
    const refined = checkAuditReport(
      { ...base, findings, rework_suggestions: [{ taskId: 'b', problem: 'p', suggestion: 's' }] },
      input,
      'm',
    );
    expect(refined.ok).toBe(true);
    if (refined.ok) {
      expect(refined.value.findings.length).toBeLessThanOrEqual(2_000);
      expect(refined.value.findings[0]).toBe('finding 0');
    }
  });

  it('accepts a failed report naming known tasks and adds the model and prompt version', () => {
    const refined = checkAuditReport(
      { ...base, rework_suggestions: [{ taskId: 'b', problem: 'p', suggestion: 's' }] },
      input,
      'm',
    );
    expect(refined).toMatchObject({ ok: true, value: { model: 'm', promptVersion: expect.any(String) } });
  });

  describe('when a suggestion names an unknown task', () => {
    it('names the unknown id and lists the valid ones', () => {
      const refined = checkAuditReport(
        { ...base, rework_suggestions: [{ taskId: 'zzz', problem: 'p', suggestion: 's' }] },
        input,
        'm',
      );
      expect(refined).toEqual({
        ok: false,
        problem: 'rework_suggestions name unknown task ids: zzz. Valid task ids are: a, b',
      });
    });
  });

  it('rejects a failed report without suggestions', () => {
    expect(checkAuditReport({ ...base, rework_suggestions: [] }, input, 'm')).toMatchObject({
      ok: false,
      problem: expect.stringContaining('passed is false but rework_suggestions is empty'),
    });
  });

  it('rejects a passed report with suggestions', () => {
    const refined = checkAuditReport(
      { ...base, passed: true, rework_suggestions: [{ taskId: 'a', problem: 'p', suggestion: 's' }] },
      input,
      'm',
    );
    expect(refined).toMatchObject({ ok: false, problem: expect.stringContaining('passed is true but') });
  });

  it('rejects a score outside 0..1', () => {
    const refined = checkAuditReport({ ...base, passed: true, score: 7, rework_suggestions: [] }, input, 'm');
    expect(refined).toMatchObject({ ok: false, problem: expect.stringContaining('score') });
  });
});

describe('checkPlan', () => {
  const task = (id: string, dependsOn: string[] = []) => ({ id, title: id, instructions: 'do', dependsOn });

  it('returns protocol TaskSpecs, omitting empty dependsOn', () => {
    expect(checkPlan({ tasks: [task('a'), task('b', ['a'])] }, 12)).toEqual({
      ok: true,
      value: [
        { id: 'a', title: 'a', instructions: 'do' },
        { id: 'b', title: 'b', instructions: 'do', dependsOn: ['a'] },
      ],
    });
  });

  it.each([
    [[task('a', ['b']), task('b', ['a'])], 'dependency cycle: a -> b -> a'],
    [[task('a', ['ghost'])], 'task "a" depends on "ghost", which is not in the plan'],
    [[task('a'), task('a')], 'task id "a" appears more than once'],
    [[task('_x')], 'task id "_x" is not allowed'],
    [[task('has space')], 'task id "has space" is not allowed'],
    [[task('a', ['a'])], 'task "a" depends on itself'],
    [[], 'the plan has no tasks'],
    [Array.from({ length: 13 }, (_, i) => task(`t${i}`)), 'the plan has 13 tasks; at most 12 are allowed'],
  ])('rejects a bad plan naming the problem (%#)', (tasks, problem) => {
    const refined = checkPlan({ tasks }, 12);
    expect(refined.ok).toBe(false);
    if (!refined.ok) expect(refined.problem).toContain(problem);
  });

  it('rejects an empty title', () => {
    const refined = checkPlan({ tasks: [{ ...task('a'), title: '' }] }, 12);
    expect(refined).toMatchObject({ ok: false, problem: expect.stringContaining('tasks.0.title') });
  });
});

describe('retryAfterMs', () => {
  it.each([
    [{ 'retry-after-ms': '150' }, 150],
    [{ 'retry-after-ms': '12.3', 'retry-after': '9' }, 13],
    [{ 'retry-after': '0.2' }, 200],
    [{ 'retry-after': '2' }, 2000],
    [{ 'retry-after': 'Thu, 01 Jan 1970 00:00:03 GMT' }, 2000],
    [{ 'retry-after': 'soon' }, null],
    [{}, null],
  ])('reads %j as %s ms', (headers, expected) => {
    expect(retryAfterMs(new Headers(headers), 1000)).toBe(expected);
  });
});

describe('truncate', () => {
  it('keeps short text and cuts long text to exactly the cap with a note', () => {
    expect(truncate('abc', 5)).toBe('abc');
    const cut = truncate('x'.repeat(200), 60);
    expect(cut).toHaveLength(60);
    expect(cut).toMatch(/\[… truncated 1\d\d characters\]$/);
  });
});

describe('resolveProvider', () => {
  it.each([
    [{}, 'offline'],
    [{ provider: 'auto' as const }, 'offline'],
    [{ provider: 'auto' as const, llm: { baseURL: 'http://127.0.0.1:1/v1' } }, 'openai'],
    [{ provider: 'auto' as const, llm: { apiKey: 'sk-x' } }, 'openai'],
    [{ provider: 'offline' as const, llm: { baseURL: 'http://127.0.0.1:1/v1' } }, 'offline'],
    [{ provider: 'openai' as const }, 'openai'],
  ])('%j → %s', (config, expected) => {
    expect(resolveProvider(config)).toBe(expected);
  });
});
