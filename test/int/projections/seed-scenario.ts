import { v4 as uuidv4 } from 'uuid';
import type { Subjects } from '../../../src/events/index.ts';
import type { TaskGraph, TaskSpec } from '../../../src/protocol/index.ts';
import { TrailBuilder } from '../../fixtures/trail-builder.ts';

/**
 * The seed checkpoint's graph: five tasks with dependencies (a, b roots; c ← a; d ← a, b; e ← c, d)
 * through claims, a failed attempt, progress, a lease extension, completions, a failed audit that
 * reworks c (and so e), a passed audit, synthesis and success.
 */
export function buildSeedScenario(subjects: Subjects, baseSeq: number) {
  const graphId = uuidv4();
  const b = new TrailBuilder(subjects, graphId, { baseSeq });
  const tasks: TaskSpec[] = [
    { id: 'a', title: 'Collect sources', instructions: 'List three sources.' },
    { id: 'b', title: 'Compute totals', instructions: 'Compute 6*7.' },
    { id: 'c', title: 'Summarise sources', instructions: 'Summarise a.', dependsOn: ['a'] },
    {
      id: 'd',
      title: 'Combine',
      instructions: 'Combine a and b.',
      dependsOn: ['a', 'b'],
      capability: 'math',
    },
    { id: 'e', title: 'Write report', instructions: 'Write the report from c and d.', dependsOn: ['c', 'd'] },
  ];
  const submitted = b.submit('Write a short report', tasks, { maxReworkCycles: 2 });

  const tokenA = b.run('a', 'w1', 'sources: x, y, z');
  const tokenB1 = b.claim('b', 'w2');
  const failedB = b.add(
    { kind: 'task', graphId, taskId: 'b' },
    {
      type: 'TaskAttemptFailed',
      graphId,
      taskId: 'b',
      data: {
        claimToken: tokenB1,
        error: { message: 'tool timed out', retryable: true },
        history: [],
        retryAt: Date.parse('2026-01-01T00:00:00.000Z'),
      },
    },
    'w2',
  );
  const tokenB2 = b.claim('b', 'w1', { attempt: 2 });
  const step = {
    thought: 'I should compute 6*7',
    action: { type: 'tool' as const, name: 'calculator', input: { expression: '6*7' } },
    observation: '42',
  };
  b.progress('b', 'w1', tokenB2, 0, step);
  const extended = b.add(
    { kind: 'task', graphId, taskId: 'b' },
    {
      type: 'TaskLeaseExtended',
      graphId,
      taskId: 'b',
      data: { claimToken: tokenB2, leaseUntil: 1_900_000_000_000 },
    },
    'w1',
  );
  b.complete('b', 'w1', tokenB2, '42', [step, { thought: 'done', action: { type: 'final', answer: '42' } }]);
  const tokenC1 = b.run('c', 'w2', 'summary v1 [[BAD]]');
  const tokenD = b.claim('d', 'w3');
  const completedD = b.complete('d', 'w3', tokenD, 'a+b combined');
  b.run('e', 'w1', 'report v1');
  b.graph({ type: 'GraphCompleted', data: { cycle: 1 } });
  b.graph({ type: 'AuditStarted', data: { cycle: 1, attempt: 1, leaseUntil: 1_900_000_000_000 } });
  const failedReport = b.report(false, [
    { taskId: 'c', problem: 'carries the bad marker', suggestion: 'rewrite it' },
  ]);
  const auditFailed = b.graph({
    type: 'AuditFailed',
    data: { cycle: 1, report: failedReport, rework: ['c', 'e'] },
  });
  const tokenC2 = b.run('c', 'w3', 'summary v2', { cycle: 2 });
  const tokenE2 = b.claim('e', 'w2', { cycle: 2 });
  const completedE2 = b.complete('e', 'w2', tokenE2, 'report v2');
  b.graph({ type: 'GraphCompleted', data: { cycle: 2 } });
  b.graph({ type: 'AuditStarted', data: { cycle: 2, attempt: 1, leaseUntil: 1_900_000_000_000 } });
  const passedReport = b.report(true);
  const auditPassed = b.graph({ type: 'AuditPassed', data: { cycle: 2, report: passedReport } });
  const tokenS = b.claim('_synthesis', 'w1', { cycle: 2 });
  const completedS = b.complete('_synthesis', 'w1', tokenS, 'FINAL: report v2');
  const succeeded = b.graph({ type: 'GraphSucceeded', data: { output: 'FINAL: report v2' } });

  const at = (seq: number): string => {
    const entry = b.entries.find((e) => e.seq === seq);
    if (!entry) throw new Error(`no entry ${seq}`);
    return entry.event.at;
  };
  const resultOf = (
    token: string,
    completedSeq: number,
    opts: { cycle: number; attempt: number; agentId: string },
  ) => {
    const entry = b.entries.find((e) => e.seq === completedSeq);
    if (entry?.event.type !== 'TaskCompleted') throw new Error('not a completion');
    const { result } = entry.event.data;
    void token;
    return {
      seq: completedSeq,
      cycle: opts.cycle,
      attempt: opts.attempt,
      status: 'completed' as const,
      agentId: opts.agentId,
      output: result.output,
      history: result.history,
      usage: result.usage ?? null,
      model: result.model ?? null,
      error: null,
      at: at(completedSeq),
    };
  };
  const seqOf = (token: string) => Number(token);
  const options = { maxReworkCycles: 2, maxAttempts: 3, leaseMs: 60_000, priority: 0 };
  const task = (
    spec: TaskSpec,
    rest: Pick<TaskGraph['tasks'][number], 'attempts' | 'cycle' | 'completedCycle' | 'lastSeq' | 'result'>,
  ): TaskGraph['tasks'][number] => ({
    id: spec.id,
    kind: 'work',
    title: spec.title,
    instructions: spec.instructions,
    dependsOn: spec.dependsOn ?? [],
    capability: spec.capability ?? null,
    status: 'COMPLETED',
    assignee: null,
    claimToken: null,
    leaseUntil: null,
    ...rest,
  });
  const [specA, specB, specC, specD, specE] = tasks as [TaskSpec, TaskSpec, TaskSpec, TaskSpec, TaskSpec];
  const expected: TaskGraph = {
    graph: {
      id: graphId,
      status: 'SUCCEEDED',
      goal: 'Write a short report',
      cycle: 2,
      options,
      submittedBy: 'admin',
      failure: null,
      output: 'FINAL: report v2',
      createdAt: submitted.event.at,
      updatedAt: succeeded.event.at,
      lastSeq: succeeded.seq,
    },
    tasks: [
      task(specA, {
        attempts: 0,
        cycle: 1,
        completedCycle: 1,
        lastSeq: seqOf(tokenA) + 1,
        result: resultOf(tokenA, seqOf(tokenA) + 1, { cycle: 1, attempt: 1, agentId: 'w1' }),
      }),
      task(specB, {
        attempts: 1,
        cycle: 1,
        completedCycle: 1,
        lastSeq: extended.seq + 1,
        result: resultOf(tokenB2, extended.seq + 1, { cycle: 1, attempt: 2, agentId: 'w1' }),
      }),
      task(specC, {
        attempts: 0,
        cycle: 2,
        completedCycle: 2,
        lastSeq: seqOf(tokenC2) + 1,
        result: resultOf(tokenC2, seqOf(tokenC2) + 1, { cycle: 2, attempt: 1, agentId: 'w3' }),
      }),
      task(specD, {
        attempts: 0,
        cycle: 1,
        completedCycle: 1,
        lastSeq: completedD.seq,
        result: resultOf(tokenD, completedD.seq, { cycle: 1, attempt: 1, agentId: 'w3' }),
      }),
      task(specE, {
        attempts: 0,
        cycle: 2,
        completedCycle: 2,
        lastSeq: completedE2.seq,
        result: resultOf(tokenE2, completedE2.seq, { cycle: 2, attempt: 1, agentId: 'w2' }),
      }),
      {
        id: '_synthesis',
        kind: 'synthesis',
        title: 'Synthesize the final answer',
        instructions: 'Write a short report',
        dependsOn: ['a', 'b', 'c', 'd', 'e'],
        capability: null,
        status: 'COMPLETED',
        attempts: 0,
        cycle: 2,
        completedCycle: 2,
        assignee: null,
        claimToken: null,
        leaseUntil: null,
        lastSeq: completedS.seq,
        result: resultOf(tokenS, completedS.seq, { cycle: 2, attempt: 1, agentId: 'w1' }),
      },
    ],
    audits: [
      {
        cycle: 1,
        seq: auditFailed.seq,
        passed: false,
        report: failedReport,
        rework: ['c', 'e'],
        at: auditFailed.event.at,
      },
      {
        cycle: 2,
        seq: auditPassed.seq,
        passed: true,
        report: passedReport,
        rework: [],
        at: auditPassed.event.at,
      },
    ],
  };
  return { graphId, builder: b, expected, tokens: { tokenA, tokenB1, tokenB2, tokenC1, tokenC2 }, failedB };
}
