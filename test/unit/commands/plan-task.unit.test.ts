import { describe, expect, it } from 'vitest';
import { decidePlanTask, type PlanTask } from '../../../src/commands/plan-task.ts';
import type { TaskSpec } from '../../../src/protocol/index.ts';
import { ADMIN, DIAMOND, expectAppend, expectCode, expectNoop, GRAPH_ID, given, meta } from './given.ts';

function planTask(data: Partial<PlanTask['data']> = {}, actor = ADMIN): PlanTask {
  return {
    type: 'PlanTask',
    data: { graphId: GRAPH_ID, goal: 'the goal', ...data },
    metadata: meta(undefined, actor),
  };
}

describe('PlanTask', () => {
  describe('when the graph is new', () => {
    it('submits an explicit graph with the option defaults applied', () => {
      const decision = expectAppend(
        decidePlanTask(planTask({ tasks: DIAMOND, options: { leaseMs: 5_000 } }), null),
      );
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'graph', graphId: GRAPH_ID },
        expectedSeq: 0,
        msgId: `submit:${GRAPH_ID}`,
        event: {
          type: 'GraphSubmitted',
          graphId: GRAPH_ID,
          data: {
            goal: 'the goal',
            tasks: DIAMOND,
            options: { maxReworkCycles: 2, maxAttempts: 3, leaseMs: 5_000, priority: 0 },
            idempotencyKey: null,
          },
        },
      });
    });

    it('submits a graph for the planner when no tasks are given', () => {
      const decision = expectAppend(decidePlanTask(planTask({ idempotencyKey: 'k1' }), null));
      expect(decision.event).toMatchObject({
        type: 'GraphSubmitted',
        data: { tasks: null, idempotencyKey: 'k1' },
      });
    });

    it('rejects a dependency cycle with AM_ERR_GRAPH_CYCLIC', () => {
      const tasks: TaskSpec[] = [
        { id: 'A', title: 'a', instructions: '', dependsOn: ['B'] },
        { id: 'B', title: 'b', instructions: '', dependsOn: ['A'] },
      ];
      expectCode(decidePlanTask(planTask({ tasks }), null), 'AM_ERR_GRAPH_CYCLIC');
    });

    it('rejects a task depending on itself with AM_ERR_GRAPH_CYCLIC', () => {
      const tasks: TaskSpec[] = [{ id: 'A', title: 'a', instructions: '', dependsOn: ['A'] }];
      expectCode(decidePlanTask(planTask({ tasks }), null), 'AM_ERR_GRAPH_CYCLIC');
    });

    it('rejects an unknown dependency with AM_ERR_GRAPH_INVALID naming the problem', () => {
      const tasks: TaskSpec[] = [{ id: 'A', title: 'a', instructions: '', dependsOn: ['Z'] }];
      const error = expectCode(decidePlanTask(planTask({ tasks }), null), 'AM_ERR_GRAPH_INVALID');
      expect(error.message).toContain('"Z"');
    });

    it('rejects duplicate task ids with AM_ERR_GRAPH_INVALID', () => {
      const tasks: TaskSpec[] = [
        { id: 'A', title: 'a', instructions: '' },
        { id: 'A', title: 'a again', instructions: '' },
      ];
      expectCode(decidePlanTask(planTask({ tasks }), null), 'AM_ERR_GRAPH_INVALID');
    });

    it('rejects a task named like the synthesis task with AM_ERR_GRAPH_INVALID', () => {
      const tasks: TaskSpec[] = [{ id: '_synthesis', title: 's', instructions: '' }];
      expectCode(decidePlanTask(planTask({ tasks }), null), 'AM_ERR_GRAPH_INVALID');
    });

    it('rejects an empty task list with AM_ERR_GRAPH_INVALID', () => {
      expectCode(decidePlanTask(planTask({ tasks: [] }), null), 'AM_ERR_GRAPH_INVALID');
    });

    it('rejects options out of range with AM_ERR_VALIDATION', () => {
      expectCode(decidePlanTask(planTask({ options: { leaseMs: 10 } }), null), 'AM_ERR_VALIDATION');
    });
  });

  describe('when the graph exists', () => {
    function submittedWithKey(key: string | null) {
      const g = given();
      g.add(
        {
          type: 'GraphSubmitted',
          data: {
            goal: 'the goal',
            tasks: null,
            options: { maxReworkCycles: 2, maxAttempts: 3, leaseMs: 60_000, priority: 0 },
            idempotencyKey: key,
          },
        },
        { actor: ADMIN },
      );
      g.add({ type: 'PlanningStarted', data: { attempt: 1, leaseUntil: 0 } });
      return g;
    }

    it('answers a repeat with the same idempotency key by the same submitter with the original submission', () => {
      const g = submittedWithKey('k1');
      expectNoop(decidePlanTask(planTask({ idempotencyKey: 'k1' }), g.state), 1);
    });

    it('rejects the same key with another goal with AM_ERR_GRAPH_EXISTS naming the key', () => {
      const g = submittedWithKey('k1');
      const refused = decidePlanTask(planTask({ idempotencyKey: 'k1', goal: 'another goal' }), g.state);
      expectCode(refused, 'AM_ERR_GRAPH_EXISTS');
      expect((refused as { details?: { field?: string } }).details?.field).toBe('idempotencyKey');
    });

    it('rejects the same key with other options or with tasks with AM_ERR_GRAPH_EXISTS', () => {
      const g = submittedWithKey('k1');
      expectCode(
        decidePlanTask(planTask({ idempotencyKey: 'k1', options: { priority: 5 } }), g.state),
        'AM_ERR_GRAPH_EXISTS',
      );
      expectCode(
        decidePlanTask(planTask({ idempotencyKey: 'k1', tasks: DIAMOND }), g.state),
        'AM_ERR_GRAPH_EXISTS',
      );
    });

    it('answers a repeat of the same explicit graph under the same key with the original submission', () => {
      const g = given();
      const first = expectAppend(decidePlanTask(planTask({ idempotencyKey: 'k9', tasks: DIAMOND }), null));
      g.add(first.event, { actor: ADMIN });
      expectNoop(decidePlanTask(planTask({ idempotencyKey: 'k9', tasks: DIAMOND }), g.state), 1);
      const changed = DIAMOND.map((t, i) => (i === 0 ? { ...t, title: 'renamed' } : t));
      expectCode(
        decidePlanTask(planTask({ idempotencyKey: 'k9', tasks: changed }), g.state),
        'AM_ERR_GRAPH_EXISTS',
      );
    });

    it('rejects the same key from another submitter with AM_ERR_GRAPH_EXISTS', () => {
      const g = submittedWithKey('k1');
      expectCode(
        decidePlanTask(planTask({ idempotencyKey: 'k1' }, 'admin-2'), g.state),
        'AM_ERR_GRAPH_EXISTS',
      );
    });

    it('rejects a submission without a key with AM_ERR_GRAPH_EXISTS', () => {
      const g = submittedWithKey(null);
      expectCode(decidePlanTask(planTask(), g.state), 'AM_ERR_GRAPH_EXISTS');
    });

    it('rejects another key with AM_ERR_GRAPH_EXISTS', () => {
      const g = submittedWithKey('k1');
      expectCode(decidePlanTask(planTask({ idempotencyKey: 'k2' }), g.state), 'AM_ERR_GRAPH_EXISTS');
    });
  });
});
