import { v4 as uuidv4 } from 'uuid';
import type { Subjects } from '../../../src/events/index.ts';
import type { TaskSpec } from '../../../src/protocol/index.ts';
import type { EventStore } from '../../../src/store/event-store.ts';
import { TrailBuilder, type TrailEntry } from '../../fixtures/trail-builder.ts';

export interface ReworkGraphOptions {
  /** Work tasks (a chain of pairs: t1 ← t0, t3 ← t2, …). Default 4. */
  tasks?: number;
  /** Progress steps each task reports before it completes. Default 2. */
  steps?: number;
  /** The graph's start time (epoch ms), so graphs spread over days. Default 2026-01-01. */
  startMs?: number;
}

/**
 * One explicit graph through a whole life with rework: every task runs (the first fails an attempt first,
 * with a retryable error), an audit fails and reworks t0 (and what depends on it), the second audit
 * passes, synthesis completes and the graph succeeds. Its stream sequences assume it is appended in order
 * to a stream whose last sequence is `baseSeq`.
 */
export function buildReworkGraph(subjects: Subjects, baseSeq: number, opts: ReworkGraphOptions = {}) {
  const taskCount = opts.tasks ?? 4;
  const steps = opts.steps ?? 2;
  const graphId = uuidv4();
  const b = new TrailBuilder(subjects, graphId, {
    baseSeq,
    ...(opts.startMs === undefined ? {} : { startMs: opts.startMs }),
  });
  const tasks: TaskSpec[] = Array.from({ length: taskCount }, (_, i) => ({
    id: `t${i}`,
    title: `Task ${i}`,
    instructions: `Do part ${i} of the goal.`,
    ...(i % 2 === 1 ? { dependsOn: [`t${i - 1}`] } : {}),
  }));
  b.submit(`A goal with ${taskCount} tasks`, tasks, { maxReworkCycles: 2 });
  const work = (taskId: string, agent: string, output: string, cycle: number, attempt = 1) => {
    const token = b.claim(taskId, agent, { cycle, attempt });
    for (let i = 0; i < steps; i++) {
      b.progress(taskId, agent, token, i, {
        thought: `step ${i} of ${taskId}`,
        action: { type: 'tool', name: 'search', input: { query: `${taskId} ${i}` } },
        observation: `found ${i}`,
      });
    }
    b.complete(taskId, agent, token, output);
  };
  // The first task fails an attempt before it completes.
  const failed = b.claim('t0', 'w-fail');
  b.add(
    { kind: 'task', graphId, taskId: 't0' },
    {
      type: 'TaskAttemptFailed',
      graphId,
      taskId: 't0',
      data: {
        claimToken: failed,
        error: { message: 'the tool timed out', retryable: true },
        history: [],
        retryAt: Date.parse('2026-01-01T00:00:00.000Z'),
      },
    },
    'w-fail',
  );
  for (let i = 0; i < taskCount; i += 2) {
    work(`t${i}`, `w${i % 3}`, `output of t${i}`, 1, i === 0 ? 2 : 1);
    if (i + 1 < taskCount) work(`t${i + 1}`, `w${(i + 1) % 3}`, `output of t${i + 1}`, 1);
  }
  b.graph({ type: 'GraphCompleted', data: { cycle: 1 } });
  b.graph({ type: 'AuditStarted', data: { cycle: 1, attempt: 1, leaseUntil: 1_900_000_000_000 } });
  const rework = taskCount > 1 ? ['t0', 't1'] : ['t0'];
  b.graph({
    type: 'AuditFailed',
    data: {
      cycle: 1,
      report: b.report(false, [{ taskId: 't0', problem: 'too short', suggestion: 'say more' }]),
      rework,
    },
  });
  for (const taskId of rework) work(taskId, 'w-rework', `better output of ${taskId}`, 2);
  b.graph({ type: 'GraphCompleted', data: { cycle: 2 } });
  b.graph({ type: 'AuditStarted', data: { cycle: 2, attempt: 1, leaseUntil: 1_900_000_000_000 } });
  b.graph({ type: 'AuditPassed', data: { cycle: 2, report: b.report(true) } });
  const synthesis = b.claim('_synthesis', 'w0', { cycle: 2 });
  b.complete('_synthesis', 'w0', synthesis, 'the final answer');
  b.graph({ type: 'GraphSucceeded', data: { output: 'the final answer' } });
  return { graphId, builder: b };
}

/** Rework graphs appended one after another from `baseSeq` until at least `events` events. */
export function buildReworkWorkload(
  subjects: Subjects,
  baseSeq: number,
  events: number,
  opts: ReworkGraphOptions = {},
): { entries: TrailEntry[]; graphIds: string[]; lastSeq: number } {
  const entries: TrailEntry[] = [];
  const graphIds: string[] = [];
  let seq = baseSeq;
  let day = 0;
  while (seq - baseSeq < events) {
    const startMs = (opts.startMs ?? Date.parse('2026-01-01T00:00:00.000Z')) + (day++ % 5) * 86_400_000;
    const { graphId, builder } = buildReworkGraph(subjects, seq, { ...opts, startMs });
    entries.push(...builder.entries);
    graphIds.push(graphId);
    seq = builder.lastSeq;
  }
  return { entries, graphIds, lastSeq: seq };
}

/**
 * Appends `entries` in order, `window` appends in flight at once (one connection keeps their order, so
 * the sequences the builder predicted hold); rejects when a sequence is not the predicted one.
 */
export async function appendEntries(
  store: EventStore,
  entries: readonly TrailEntry[],
  window = 500,
): Promise<void> {
  let inFlight: Array<Promise<void>> = [];
  for (const entry of entries) {
    inFlight.push(
      store
        .append({
          subject: entry.subject,
          event: entry.event,
          // Progress carries no expectation (the server appends it so): it never bumps a task's sequence.
          expectedLastSubjectSeq: entry.subject.endsWith('.progress') ? null : entry.expectedSeq,
          msgId: entry.msgId,
        })
        .then((result) => {
          if (result.seq !== entry.seq) throw new Error(`appended at ${result.seq}, expected ${entry.seq}`);
        }),
    );
    if (inFlight.length >= window) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
}
