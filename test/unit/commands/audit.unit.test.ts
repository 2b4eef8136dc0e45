import { describe, expect, it } from 'vitest';
import { decideRecordAudit, type RecordAudit } from '../../../src/commands/record-audit.ts';
import { reworkSet } from '../../../src/commands/rework-set.ts';
import { decideStartAudit, type StartAudit } from '../../../src/commands/start-audit.ts';
import { SYNTHESIS_TASK_ID, type TaskSpec } from '../../../src/protocol/index.ts';
import { expectAppend, expectCode, GRAPH_ID, given, MANAGER, meta, report, T0 } from './given.ts';

function startAudit(cycle = 1, now = T0, maxAttempts = 2): StartAudit {
  return {
    type: 'StartAudit',
    data: { graphId: GRAPH_ID, cycle, markerMs: 60_000, maxAttempts },
    metadata: meta(now, MANAGER),
  };
}

function recordAudit(passed: boolean, rework: string[] = [], cycle = 1): RecordAudit {
  return {
    type: 'RecordAudit',
    data: { graphId: GRAPH_ID, cycle, report: report(passed, rework) },
    metadata: meta(T0, MANAGER),
  };
}

describe('StartAudit', () => {
  describe('when a cycle was completed', () => {
    it('appends the cycle’s first audit marker under a per-request msgId', () => {
      const g = given().submit().throughFirstCycle();
      const decision = expectAppend(decideStartAudit(startAudit(), g.state));
      expect(decision).toMatchObject({
        to: { kind: 'graph', graphId: GRAPH_ID },
        expectedSeq: g.state.lastSeq,
        event: {
          type: 'AuditStarted',
          graphId: GRAPH_ID,
          data: { cycle: 1, attempt: 1, leaseUntil: T0 + 60_000 },
        },
      });
      expect(decision.msgId).toMatch(new RegExp(`^audit-start:${GRAPH_ID}:1:1:.+`));
      g.accept(decision, meta(T0, MANAGER));
      expect(g.state.audit).toEqual({ cycle: 1, attempts: 1, leaseUntil: T0 + 60_000 });
    });
  });

  describe('when the marker is held', () => {
    it('rejects with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit().throughFirstCycle();
      g.add({ type: 'AuditStarted', data: { cycle: 1, attempt: 1, leaseUntil: T0 + 60_000 } });
      const error = expectCode(decideStartAudit(startAudit(1, T0 + 1_000), g.state), 'AM_ERR_GRAPH_STATE');
      expect(error.details).toMatchObject({ refusal: 'marker_held' });
    });
  });

  describe('when the marker expired', () => {
    it('takes it over with the next attempt', () => {
      const g = given().submit().throughFirstCycle();
      g.add({ type: 'AuditStarted', data: { cycle: 1, attempt: 1, leaseUntil: T0 + 60_000 } });
      const decision = expectAppend(decideStartAudit(startAudit(1, T0 + 60_000), g.state));
      expect(decision.event).toMatchObject({ data: { cycle: 1, attempt: 2 } });
    });

    it('rejects beyond maxAttempts with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit().throughFirstCycle();
      g.add({ type: 'AuditStarted', data: { cycle: 1, attempt: 1, leaseUntil: T0 } });
      g.add({ type: 'AuditStarted', data: { cycle: 1, attempt: 2, leaseUntil: T0 } });
      const error = expectCode(decideStartAudit(startAudit(1, T0 + 1, 2), g.state), 'AM_ERR_GRAPH_STATE');
      expect(error.details).toMatchObject({ refusal: 'marker_attempts_exhausted' });
    });
  });

  describe('when the graph is not auditing that cycle', () => {
    it('rejects a running graph with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit();
      expectCode(decideStartAudit(startAudit(), g.state), 'AM_ERR_GRAPH_STATE');
    });

    it('rejects another cycle with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit().throughFirstCycle();
      expectCode(decideStartAudit(startAudit(2), g.state), 'AM_ERR_GRAPH_STATE');
    });
  });
});

describe('RecordAudit', () => {
  describe('when the audit passed', () => {
    it('appends AuditPassed and the synthesis task becomes READY', () => {
      const g = given().submit().throughFirstCycle();
      const decision = decideRecordAudit(recordAudit(true), g.state);
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'graph', graphId: GRAPH_ID },
        expectedSeq: g.state.lastSeq,
        msgId: `audit:${GRAPH_ID}:1`,
        event: { type: 'AuditPassed', graphId: GRAPH_ID, data: { cycle: 1, report: report(true) } },
      });
      g.accept(decision, meta(T0, MANAGER));
      expect(g.state.status).toBe('SYNTHESIZING');
      expect(g.task(SYNTHESIS_TASK_ID).status).toBe('READY');
    });
  });

  describe('when the audit failed with rework cycles left', () => {
    it('reworks the named tasks and everything that depends on them', () => {
      const g = given().submit().throughFirstCycle();
      const decision = expectAppend(decideRecordAudit(recordAudit(false, ['B']), g.state));
      expect(decision.event).toEqual({
        type: 'AuditFailed',
        graphId: GRAPH_ID,
        data: { cycle: 1, report: report(false, ['B']), rework: ['B', 'D'] },
      });
      g.accept(decision, meta(T0, MANAGER));
      expect(g.state.cycle).toBe(2);
      expect(g.task('B').status).toBe('READY');
      expect(g.task('D').status).toBe('PENDING');
      expect(g.task('A').status).toBe('COMPLETED');
      expect(g.task('C').status).toBe('COMPLETED');
    });

    it('names each task of the rework once', () => {
      const g = given().submit().throughFirstCycle();
      const decision = expectAppend(decideRecordAudit(recordAudit(false, ['D', 'B', 'D']), g.state));
      expect(decision.event).toMatchObject({ data: { rework: ['B', 'D'] } });
    });
  });

  describe('when no rework cycle is left', () => {
    it('appends AuditFailed with an empty rework after maxReworkCycles reworked audits', () => {
      const g = given().submit(undefined, { maxReworkCycles: 1 }).throughFirstCycle();
      g.accept(decideRecordAudit(recordAudit(false, ['D']), g.state), meta(T0, MANAGER));
      g.completeAll('D');
      g.graphCompleted(2);
      const decision = expectAppend(decideRecordAudit(recordAudit(false, ['D'], 2), g.state));
      expect(decision.event).toMatchObject({ type: 'AuditFailed', data: { cycle: 2, rework: [] } });
      g.accept(decision, meta(T0, MANAGER));
      expect(g.state.status).toBe('AUDITING');
      expect(g.state.cycle).toBe(2);
    });

    it('gives no rework at all with maxReworkCycles 0', () => {
      const g = given().submit(undefined, { maxReworkCycles: 0 }).throughFirstCycle();
      const decision = expectAppend(decideRecordAudit(recordAudit(false, ['A']), g.state));
      expect(decision.event).toMatchObject({ data: { rework: [] } });
    });
  });

  describe('when the report names a task the graph does not have', () => {
    it('rejects with AM_ERR_REWORK_UNKNOWN_TASK', () => {
      const g = given().submit().throughFirstCycle();
      const error = expectCode(
        decideRecordAudit(recordAudit(false, ['B', 'Z']), g.state),
        'AM_ERR_REWORK_UNKNOWN_TASK',
      );
      expect(error.details).toEqual({ tasks: ['Z'] });
    });

    it('rejects the synthesis task with AM_ERR_REWORK_UNKNOWN_TASK', () => {
      const g = given().submit().throughFirstCycle();
      expectCode(
        decideRecordAudit(recordAudit(false, [SYNTHESIS_TASK_ID]), g.state),
        'AM_ERR_REWORK_UNKNOWN_TASK',
      );
    });
  });

  describe('when a failed report names no task', () => {
    it('rejects with AM_ERR_REWORK_UNKNOWN_TASK', () => {
      const g = given().submit().throughFirstCycle();
      expectCode(decideRecordAudit(recordAudit(false, []), g.state), 'AM_ERR_REWORK_UNKNOWN_TASK');
    });
  });

  describe('when the graph is not auditing that cycle', () => {
    it('rejects a running graph with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit();
      expectCode(decideRecordAudit(recordAudit(true), g.state), 'AM_ERR_GRAPH_STATE');
    });

    it('rejects a second verdict on the same cycle with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit().throughAudit();
      expectCode(decideRecordAudit(recordAudit(true), g.state), 'AM_ERR_GRAPH_STATE');
    });

    it('rejects a cancelled graph with AM_ERR_GRAPH_CANCELLED', () => {
      const g = given().submit().throughFirstCycle();
      g.cancel();
      expectCode(decideRecordAudit(recordAudit(true), g.state), 'AM_ERR_GRAPH_CANCELLED');
    });
  });
});

describe('reworkSet', () => {
  const chain: TaskSpec[] = [
    { id: 'A', title: 'a', instructions: '' },
    { id: 'B', title: 'b', instructions: '', dependsOn: ['A'] },
    { id: 'C', title: 'c', instructions: '', dependsOn: ['B'] },
    { id: 'E', title: 'e', instructions: '' },
  ];

  it('adds every transitive dependent, in plan order', () => {
    const g = given().submit(chain);
    expect(reworkSet(g.state, ['A'])).toEqual(['A', 'B', 'C']);
    expect(reworkSet(g.state, ['C', 'E'])).toEqual(['C', 'E']);
  });

  it('covers the diamond’s join once from both sides', () => {
    const g = given().submit();
    expect(reworkSet(g.state, ['C', 'B'])).toEqual(['B', 'C', 'D']);
    expect(reworkSet(g.state, ['A'])).toEqual(['A', 'B', 'C', 'D']);
  });

  it('leaves out the synthesis task and unknown ids', () => {
    const g = given().submit();
    expect(reworkSet(g.state, [SYNTHESIS_TASK_ID, 'Z', 'D'])).toEqual(['D']);
  });
});
