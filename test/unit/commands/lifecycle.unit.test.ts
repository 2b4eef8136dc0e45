import { describe, expect, it } from 'vitest';
import { decideClaimTask } from '../../../src/commands/claim-task.ts';
import { decideCompleteCycle } from '../../../src/commands/complete-cycle.ts';
import { decideRecordAudit } from '../../../src/commands/record-audit.ts';
import { decideRecordPlan } from '../../../src/commands/record-plan.ts';
import { decideStartAudit } from '../../../src/commands/start-audit.ts';
import { decideStartPlanning } from '../../../src/commands/start-planning.ts';
import { decideSubmitResult } from '../../../src/commands/submit-result.ts';
import { decideSucceedGraph } from '../../../src/commands/succeed-graph.ts';
import { SYNTHESIS_TASK_ID } from '../../../src/protocol/index.ts';
import {
  DIAMOND,
  type GivenGraph,
  GRAPH_ID,
  given,
  MANAGER,
  meta,
  report,
  result,
  T0,
  WORKER,
} from './given.ts';

/** Drives one task through the worker's commands: claim, then a completed result. */
function work(g: GivenGraph, taskId: string): void {
  const now = g.now;
  const claim = decideClaimTask(
    {
      type: 'ClaimTask',
      data: { graphId: GRAPH_ID, taskId, agentId: WORKER, requestId: `r-${g.nextSeq}` },
      metadata: meta(now),
    },
    g.state,
  );
  const token = String(g.accept(claim, meta(now)));
  const done = decideSubmitResult(
    {
      type: 'SubmitResult',
      data: {
        graphId: GRAPH_ID,
        taskId,
        agentId: WORKER,
        claimToken: token,
        status: 'completed',
        result: result(),
      },
      metadata: meta(now),
    },
    g.state,
  );
  g.accept(done, meta(now));
}

function manager(now = T0) {
  return meta(now, MANAGER);
}

describe('a graph’s whole life through the deciders', () => {
  it('plans, works, reworks after a failed audit, synthesizes and succeeds', () => {
    const g = given().submit(null);
    g.accept(
      decideStartPlanning(
        {
          type: 'StartPlanning',
          data: { graphId: GRAPH_ID, markerMs: 30_000, maxAttempts: 2 },
          metadata: manager(),
        },
        g.state,
      ),
      manager(),
    );
    g.accept(
      decideRecordPlan(
        {
          type: 'RecordPlan',
          data: { graphId: GRAPH_ID, tasks: DIAMOND, planner: 'offline' },
          metadata: manager(),
        },
        g.state,
      ),
      manager(),
    );
    for (const id of ['A', 'B', 'C', 'D']) work(g, id);

    const complete = (cycle: number) =>
      g.accept(
        decideCompleteCycle(
          { type: 'CompleteCycle', data: { graphId: GRAPH_ID, cycle }, metadata: manager() },
          g.state,
        ),
        manager(),
      );
    const audit = (cycle: number, passed: boolean, rework: string[] = []) => {
      g.accept(
        decideStartAudit(
          {
            type: 'StartAudit',
            data: { graphId: GRAPH_ID, cycle, markerMs: 60_000, maxAttempts: 2 },
            metadata: manager(),
          },
          g.state,
        ),
        manager(),
      );
      g.accept(
        decideRecordAudit(
          {
            type: 'RecordAudit',
            data: { graphId: GRAPH_ID, cycle, report: report(passed, rework) },
            metadata: manager(),
          },
          g.state,
        ),
        manager(),
      );
    };

    complete(1);
    audit(1, false, ['C']);
    expect(g.state.status).toBe('RUNNING');
    expect(g.state.cycle).toBe(2);
    expect(g.task('C').status).toBe('READY');
    expect(g.task('D').status).toBe('PENDING');
    expect(g.task('B').status).toBe('COMPLETED');

    work(g, 'C');
    work(g, 'D');
    complete(2);
    audit(2, true);
    expect(g.state.status).toBe('SYNTHESIZING');

    work(g, SYNTHESIS_TASK_ID);
    g.accept(
      decideSucceedGraph(
        { type: 'SucceedGraph', data: { graphId: GRAPH_ID, output: 'final' }, metadata: manager() },
        g.state,
      ),
      manager(),
    );
    expect(g.state.status).toBe('SUCCEEDED');
    expect(g.state.output).toBe('final');
    expect(g.state.audits.map((a) => a.passed)).toEqual([false, true]);
  });
});
