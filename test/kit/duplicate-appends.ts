import { v7 as uuidv7 } from 'uuid';
import { type EventDraft, stamp } from '../../src/events/index.ts';
import type { EventStore } from '../../src/store/event-store.ts';

/**
 * What a broken compare-and-set on a replicated stream (nats-server before 2.10.19, #4320/#5644) would
 * let through: appends to a task subject that should have been refused by their expected-sequence
 * check. A real race may never fire in a test, so these append without that check (expected sequence
 * null), and the fold must make them harmless: first claim wins, results need the current claim token.
 */
async function appendUnchecked(store: EventStore, draft: EventDraft, actor: string): Promise<number> {
  if (draft.graphId === undefined || draft.taskId === undefined) throw new Error('a task event needs ids');
  const event = stamp(draft, { now: Date.now(), actor, newId: uuidv7 });
  const { seq } = await store.append({
    subject: store.subjects.of({ kind: 'task', graphId: draft.graphId, taskId: draft.taskId }),
    event,
    expectedLastSubjectSeq: null,
    msgId: event.id,
  });
  return seq;
}

/** A second TaskClaimed for a task already claimed in this cycle; returns its sequence (the loser's token). */
export function injectDuplicateClaim(
  store: EventStore,
  ref: { graphId: string; taskId: string; agentId: string; attempt?: number; cycle?: number },
): Promise<number> {
  return appendUnchecked(
    store,
    {
      type: 'TaskClaimed',
      graphId: ref.graphId,
      taskId: ref.taskId,
      data: {
        agentId: ref.agentId,
        requestId: `dup-${uuidv7()}`,
        attempt: ref.attempt ?? 1,
        cycle: ref.cycle ?? 1,
        leaseUntil: Date.now() + 60_000,
      },
    },
    ref.agentId,
  );
}

/** The losing claim's TaskCompleted, appended as if its expected-sequence check had passed. */
export function injectStaleCompletion(
  store: EventStore,
  ref: { graphId: string; taskId: string; agentId: string; claimToken: string; output: string },
): Promise<number> {
  return appendUnchecked(
    store,
    {
      type: 'TaskCompleted',
      graphId: ref.graphId,
      taskId: ref.taskId,
      data: {
        claimToken: ref.claimToken,
        result: {
          output: ref.output,
          history: [{ thought: 'duplicate', action: { type: 'final', answer: ref.output } }],
          usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
          model: 'offline',
          promptVersion: 'duplicate-append',
        },
      },
    },
    ref.agentId,
  );
}
