import { describe, expect, it } from 'vitest';
import type { AuditInput } from '../../../src/agents/auditor.ts';
import { offlineAudit } from '../../../src/agents/offline/auditor.ts';
import { createAgents } from '../../../src/agents/providers.ts';
import { AuditReportSchema, fitAuditReport, LIMITS } from '../../../src/protocol/index.ts';

const good = {
  id: 'venues',
  title: 'Shortlist venues',
  instructions: 'Shortlist three venues near Lisbon with prices.',
  dependsOn: [],
  output: 'Three venues near Lisbon: A (2k), B (3k), C (4k).',
};

function input(output: string, cycle = 1): AuditInput {
  return {
    goal: 'Plan the offsite',
    cycle,
    tasks: [
      good,
      {
        id: 'budget',
        title: 'Estimate the budget',
        instructions: 'Estimate the total budget for travel and lodging.',
        dependsOn: ['venues'],
        output,
      },
    ],
  };
}

describe('offline auditor', () => {
  describe('when every output passes the checks', () => {
    it('passes with score 1 and no rework suggestions', () => {
      const report = offlineAudit(input('The total budget is 12k for travel and lodging.'));
      expect(report).toMatchObject({ passed: true, score: 1, rework_suggestions: [], model: 'offline' });
      expect(AuditReportSchema.safeParse(report).success).toBe(true);
    });
  });

  describe('rule (a): when a task output carries the bad marker', () => {
    it('names that task in rework_suggestions', () => {
      const report = offlineAudit(input('The budget is 12k. [[BAD]]'));
      expect(report.passed).toBe(false);
      expect(report.rework_suggestions).toEqual([
        expect.objectContaining({ taskId: 'budget', problem: 'the output carries the known-bad marker' }),
      ]);
      expect(report.findings).toContain('budget: bad_marker: the output carries the known-bad marker');
      expect(report.score).toBe(0.5);
    });

    it('fails it in every cycle', () => {
      expect(offlineAudit(input('The budget is 12k. [[BAD]]', 3)).passed).toBe(false);
    });

    it('is case-sensitive', () => {
      expect(offlineAudit(input('The budget is 12k. [[bad]]')).passed).toBe(true);
    });
  });

  describe('rule (b): when a task output is empty or whitespace', () => {
    it.each(['', '  \n\t '])('fails the task (%j)', (output) => {
      const report = offlineAudit(input(output));
      expect(report.rework_suggestions).toEqual([
        {
          taskId: 'budget',
          problem: 'the output is empty',
          suggestion: 'produce a complete, non-empty answer to the instructions',
        },
      ]);
    });
  });

  describe('rule (c): when an output mentions no keyword of its title and instructions', () => {
    it('fails the task as ignoring its instructions', () => {
      const report = offlineAudit(input('Here is a poem about the sea.'));
      expect(report.passed).toBe(false);
      expect(report.rework_suggestions[0]).toMatchObject({ taskId: 'budget' });
      expect(report.rework_suggestions[0]!.problem).toContain('ignores its instructions');
      expect(report.rework_suggestions[0]!.problem).toContain('estimate, budget, total, travel, lodging');
    });

    it('matches whole words, case-insensitively', () => {
      expect(offlineAudit(input('LODGING is cheap.')).passed).toBe(true);
      expect(offlineAudit(input('Budgetary remarks only.')).passed).toBe(false);
    });
  });

  describe('rule (d): when an output carries the bad-once marker', () => {
    it('fails it in cycle 1', () => {
      const report = offlineAudit(input('The budget is 12k. [[BAD-ONCE]]', 1));
      expect(report.rework_suggestions.map((s) => s.taskId)).toEqual(['budget']);
    });

    it('passes it from cycle 2 on', () => {
      expect(offlineAudit(input('The budget is 12k. [[BAD-ONCE]]', 2)).passed).toBe(true);
    });
  });

  it('gives one suggestion per failed task, joining the problems of several rules', () => {
    const report = offlineAudit({
      goal: 'g',
      cycle: 1,
      tasks: [
        { ...good, output: '[[BAD]] [[BAD-ONCE]]' },
        { ...good, id: 'other', output: '' },
      ],
    });
    expect(report.rework_suggestions.map((s) => s.taskId)).toEqual(['venues', 'other']);
    expect(report.rework_suggestions[0]!.problem.split('; ')).toHaveLength(3);
    expect(report.score).toBe(0);
  });

  it('is what the offline provider runs', async () => {
    const agents = createAgents({ provider: 'offline' });
    expect(await agents.runAudit(input('[[BAD]] budget'))).toEqual(offlineAudit(input('[[BAD]] budget')));
  });
});

describe('audit reports of the largest graphs', () => {
  const tasks = Array.from({ length: 500 }, (_, i) => ({
    id: `t${i}`,
    title: `Task ${i}`,
    instructions: `Write the paragraph number ${i} about lighthouses.`,
    dependsOn: [],
    output: i % 7 === 0 ? `[[BAD]] ${'x'.repeat(3_000)}` : `Paragraph ${i} about lighthouses.`,
  }));

  it('stay valid and small enough for their event when every task gets findings', () => {
    const report = offlineAudit({ goal: 'Five hundred paragraphs', cycle: 1, tasks });
    expect(AuditReportSchema.safeParse(report).success).toBe(true);
    expect(report.findings.length).toBeGreaterThan(200);
    expect(report.rework_suggestions.map((s) => s.taskId)).toEqual(
      tasks.filter((_, i) => i % 7 === 0).map((t) => t.id),
    );
    expect(new TextEncoder().encode(JSON.stringify(report)).byteLength).toBeLessThanOrEqual(
      LIMITS.maxAuditReportBytes,
    );
  });
});

describe('fitAuditReport', () => {
  const huge = {
    passed: false,
    score: 0.5,
    summary: 's'.repeat(30_000),
    findings: Array.from({ length: 3_000 }, (_, i) => `t${i}: ${'f'.repeat(1_000)}`),
    rework_suggestions: [{ taskId: 't1', problem: 'p'.repeat(30_000), suggestion: 'q'.repeat(30_000) }],
  };

  describe('when a report has more findings and text than its event can carry', () => {
    it('keeps the verdict and the suggested tasks, says what it cut, and fits the budget', () => {
      const fitted = fitAuditReport(huge);
      expect(AuditReportSchema.safeParse(fitted).success).toBe(true);
      expect(fitted).toMatchObject({ passed: false, score: 0.5 });
      expect(fitted.rework_suggestions.map((s) => s.taskId)).toEqual(['t1']);
      expect(fitted.findings).toHaveLength(LIMITS.maxFindings);
      expect(fitted.findings.at(-1)).toBe(`[… ${3_000 - LIMITS.maxFindings + 1} more findings omitted]`);
      expect(new TextEncoder().encode(JSON.stringify(fitted)).byteLength).toBeLessThanOrEqual(
        LIMITS.maxAuditReportBytes,
      );
    });
  });

  describe('when a report already fits', () => {
    it('returns it unchanged', () => {
      const small = { ...huge, summary: 'ok', findings: ['t1: bad'], rework_suggestions: [] };
      expect(fitAuditReport(small)).toEqual(small);
    });
  });
});
